#include <cblas.h>
// Declared by OpenBLAS's cblas.h; repeated so other CBLAS headers still compile.
char *openblas_get_corename(void);
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
