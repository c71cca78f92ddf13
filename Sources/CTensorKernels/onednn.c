// oneDNN (Debian's libdnnl.so.2) loaded at run time with dlopen, so the package neither links nor needs
// its headers. Only the few C API calls a bf16 matmul needs are bound. Memory and operation descriptors
// are passed to the library by pointer only, so they are opaque buffers here, larger than oneDNN 2.x's
// structs (696 and 2,800 bytes in 2.6). Enum values are those of oneDNN 2.x's dnnl_types.h.
#include "CTensorKernels.h"
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int dnnl_status;
typedef int64_t dnnl_dims[12];
typedef struct { _Alignas(64) unsigned char bytes[4096]; } memory_desc;
typedef struct { _Alignas(64) unsigned char bytes[16384]; } matmul_desc;
typedef struct { int major, minor, patch; const char *hash; unsigned cpu_runtime, gpu_runtime; } version_info;

enum { SUCCESS = 0, CPU_ENGINE = 1, F32 = 3, BF16 = 2, STREAM_DEFAULT = 1, QUERY_IMPL_INFO_STR = 8 };
enum { ARG_SRC = 1, ARG_DST = 17, ARG_WEIGHTS = 33 };

static struct {
    void *library;
    dnnl_status (*engine_create)(void **, int, size_t);
    dnnl_status (*stream_create)(void **, void *, unsigned);
    dnnl_status (*stream_wait)(void *);
    dnnl_status (*memory_desc_init_by_strides)(memory_desc *, int, const int64_t *, int, const int64_t *);
    dnnl_status (*matmul_desc_init)(matmul_desc *, const memory_desc *, const memory_desc *, const memory_desc *,
                                    const memory_desc *);
    dnnl_status (*attr_create)(void **);
    dnnl_status (*attr_destroy)(void *);
    dnnl_status (*attr_set_post_ops)(void *, const void *);
    dnnl_status (*attr_set_output_scales)(void *, int64_t, int, const float *);
    dnnl_status (*post_ops_create)(void **);
    dnnl_status (*post_ops_destroy)(void *);
    dnnl_status (*post_ops_append_sum)(void *, float);
    dnnl_status (*primitive_desc_create)(void **, const void *, const void *, void *, const void *);
    dnnl_status (*primitive_desc_query)(const void *, int, int, void *);
    dnnl_status (*primitive_desc_destroy)(void *);
    dnnl_status (*primitive_create)(void **, const void *);
    dnnl_status (*primitive_execute)(const void *, void *, int, const void *);
    dnnl_status (*memory_create)(void **, const memory_desc *, void *, void *);
    dnnl_status (*memory_set_data_handle)(void *, void *);
    dnnl_status (*primitive_destroy)(void *);
    dnnl_status (*memory_destroy)(void *);
    const version_info *(*version)(void);
    void (*omp_set_num_threads)(int);
    void *engine, *stream;
    int threads;
} dnnl;

struct mlm_dnnl_matmul {
    void *primitive;
    void *a, *b, *c;  // dnnl_memory_t, data handles set per call
    char implementation[128];
};

int mlm_dnnl_load(const char *library, char *error, long error_length) {
    if (dnnl.engine) return 1;
    void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(error, (size_t)error_length, "%s", dlerror());
        return 0;
    }
#define BIND(field, name)                                                                     \
    do {                                                                                      \
        *(void **)(&dnnl.field) = dlsym(handle, name);                                        \
        if (!dnnl.field) {                                                                    \
            snprintf(error, (size_t)error_length, "%s lacks %s (not oneDNN 2.x?)", library, name); \
            dlclose(handle);                                                                  \
            memset(&dnnl, 0, sizeof dnnl);                                                    \
            return 0;                                                                         \
        }                                                                                     \
    } while (0)
    BIND(engine_create, "dnnl_engine_create");
    BIND(stream_create, "dnnl_stream_create");
    BIND(stream_wait, "dnnl_stream_wait");
    BIND(memory_desc_init_by_strides, "dnnl_memory_desc_init_by_strides");
    BIND(matmul_desc_init, "dnnl_matmul_desc_init");
    BIND(attr_create, "dnnl_primitive_attr_create");
    BIND(attr_destroy, "dnnl_primitive_attr_destroy");
    BIND(attr_set_post_ops, "dnnl_primitive_attr_set_post_ops");
    BIND(attr_set_output_scales, "dnnl_primitive_attr_set_output_scales");
    BIND(post_ops_create, "dnnl_post_ops_create");
    BIND(post_ops_destroy, "dnnl_post_ops_destroy");
    BIND(post_ops_append_sum, "dnnl_post_ops_append_sum");
    BIND(primitive_desc_create, "dnnl_primitive_desc_create");
    BIND(primitive_desc_query, "dnnl_primitive_desc_query");
    BIND(primitive_desc_destroy, "dnnl_primitive_desc_destroy");
    BIND(primitive_create, "dnnl_primitive_create");
    BIND(primitive_execute, "dnnl_primitive_execute");
    BIND(memory_create, "dnnl_memory_create");
    BIND(memory_set_data_handle, "dnnl_memory_set_data_handle");
    BIND(version, "dnnl_version");
    BIND(primitive_destroy, "dnnl_primitive_destroy");
    BIND(memory_destroy, "dnnl_memory_destroy");
#undef BIND
    // Debian's build runs on OpenMP; its thread count is set per call (mlm_dnnl_set_threads).
    *(void **)(&dnnl.omp_set_num_threads) = dlsym(handle, "omp_set_num_threads");
    dnnl.library = handle;
    dnnl_status status = dnnl.engine_create(&dnnl.engine, CPU_ENGINE, 0);
    if (status == SUCCESS) status = dnnl.stream_create(&dnnl.stream, dnnl.engine, STREAM_DEFAULT);
    if (status != SUCCESS) {
        snprintf(error, (size_t)error_length, "%s: creating the CPU engine failed (status %d)", library, status);
        dnnl.engine = NULL;
        return 0;
    }
    return 1;
}

void mlm_dnnl_version(int *major, int *minor, int *patch) {
    const version_info *v = dnnl.version ? dnnl.version() : NULL;
    *major = v ? v->major : 0;
    *minor = v ? v->minor : 0;
    *patch = v ? v->patch : 0;
}

void mlm_dnnl_set_threads(int threads) {
    if (dnnl.omp_set_num_threads && threads != dnnl.threads) {
        dnnl.omp_set_num_threads(threads);
        dnnl.threads = threads;
    }
}

struct mlm_dnnl_matmul *mlm_dnnl_matmul_create(int bf16_inputs, int transpose_a, int transpose_b, long m, long n,
                                               long k, long lda, long ldb, long ldc, int accumulate, float alpha,
                                               const long *batch, int *status) {
    *status = -1;
    if (!dnnl.engine) return NULL;
    memory_desc *descs = aligned_alloc(64, 3 * sizeof(memory_desc));
    matmul_desc *op = aligned_alloc(64, sizeof(matmul_desc));
    struct mlm_dnnl_matmul *result = NULL;
    void *attr = NULL, *post_ops = NULL, *pd = NULL;
    if (!descs || !op) goto done;
    // Row-major operands, transposes as strides: op(A) is [m, k], op(B) is [k, n], C is [m, n]; a batch adds
    // two leading dimensions (outer, inner) with each operand's own strides.
    int batched = batch != NULL, rank = batched ? 4 : 2, o = batched ? 2 : 0;
    dnnl_dims a_dims = {0}, a_strides = {0}, b_dims = {0}, b_strides = {0}, c_dims = {0}, c_strides = {0};
    if (batched) {
        a_dims[0] = b_dims[0] = c_dims[0] = batch[0];
        a_dims[1] = b_dims[1] = c_dims[1] = batch[1];
        a_strides[0] = batch[2], a_strides[1] = batch[3];
        b_strides[0] = batch[4], b_strides[1] = batch[5];
        c_strides[0] = batch[6], c_strides[1] = batch[7];
    }
    a_dims[o] = m, a_dims[o + 1] = k, a_strides[o] = transpose_a ? 1 : lda, a_strides[o + 1] = transpose_a ? lda : 1;
    b_dims[o] = k, b_dims[o + 1] = n, b_strides[o] = transpose_b ? 1 : ldb, b_strides[o + 1] = transpose_b ? ldb : 1;
    c_dims[o] = m, c_dims[o + 1] = n, c_strides[o] = ldc, c_strides[o + 1] = 1;
    int input_type = bf16_inputs ? BF16 : F32;
    if ((*status = dnnl.memory_desc_init_by_strides(&descs[0], rank, a_dims, input_type, a_strides)) != SUCCESS) goto done;
    if ((*status = dnnl.memory_desc_init_by_strides(&descs[1], rank, b_dims, input_type, b_strides)) != SUCCESS) goto done;
    if ((*status = dnnl.memory_desc_init_by_strides(&descs[2], rank, c_dims, F32, c_strides)) != SUCCESS) goto done;
    if ((*status = dnnl.matmul_desc_init(op, &descs[0], &descs[1], NULL, &descs[2])) != SUCCESS) goto done;
    if ((*status = dnnl.attr_create(&attr)) != SUCCESS) goto done;
    if (alpha != 1.0f && (*status = dnnl.attr_set_output_scales(attr, 1, 0, &alpha)) != SUCCESS) goto done;
    if (accumulate) {
        if ((*status = dnnl.post_ops_create(&post_ops)) != SUCCESS) goto done;
        if ((*status = dnnl.post_ops_append_sum(post_ops, 1.0f)) != SUCCESS) goto done;
        if ((*status = dnnl.attr_set_post_ops(attr, post_ops)) != SUCCESS) goto done;
    }
    if ((*status = dnnl.primitive_desc_create(&pd, op, attr, dnnl.engine, NULL)) != SUCCESS) goto done;
    result = calloc(1, sizeof *result);
    if (!result) goto done;
    const char *implementation = NULL;
    if (dnnl.primitive_desc_query(pd, QUERY_IMPL_INFO_STR, 0, &implementation) == SUCCESS && implementation)
        snprintf(result->implementation, sizeof result->implementation, "%s", implementation);
    if ((*status = dnnl.primitive_create(&result->primitive, pd)) != SUCCESS ||
        (*status = dnnl.memory_create(&result->a, &descs[0], dnnl.engine, NULL)) != SUCCESS ||
        (*status = dnnl.memory_create(&result->b, &descs[1], dnnl.engine, NULL)) != SUCCESS ||
        (*status = dnnl.memory_create(&result->c, &descs[2], dnnl.engine, NULL)) != SUCCESS) {
        mlm_dnnl_matmul_destroy(result);
        result = NULL;
    }
done:
    if (pd) dnnl.primitive_desc_destroy(pd);
    if (post_ops) dnnl.post_ops_destroy(post_ops);
    if (attr) dnnl.attr_destroy(attr);
    free(descs);
    free(op);
    return result;
}

void mlm_dnnl_matmul_destroy(struct mlm_dnnl_matmul *matmul) {
    if (!matmul) return;
    if (matmul->primitive) dnnl.primitive_destroy(matmul->primitive);
    if (matmul->a) dnnl.memory_destroy(matmul->a);
    if (matmul->b) dnnl.memory_destroy(matmul->b);
    if (matmul->c) dnnl.memory_destroy(matmul->c);
    free(matmul);
}

const char *mlm_dnnl_matmul_implementation(const struct mlm_dnnl_matmul *matmul) { return matmul->implementation; }

int mlm_dnnl_matmul_run(struct mlm_dnnl_matmul *matmul, const void *a, const void *b, float *c) {
    dnnl_status status;
    if ((status = dnnl.memory_set_data_handle(matmul->a, (void *)a)) != SUCCESS) return status;
    if ((status = dnnl.memory_set_data_handle(matmul->b, (void *)b)) != SUCCESS) return status;
    if ((status = dnnl.memory_set_data_handle(matmul->c, c)) != SUCCESS) return status;
    struct { int arg; void *memory; } args[3] = {{ARG_SRC, matmul->a}, {ARG_WEIGHTS, matmul->b}, {ARG_DST, matmul->c}};
    if ((status = dnnl.primitive_execute(matmul->primitive, dnnl.stream, 3, args)) != SUCCESS) return status;
    return dnnl.stream_wait(dnnl.stream);
}
