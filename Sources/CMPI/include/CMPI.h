#ifndef MLM_CMPI_H
#define MLM_CMPI_H

/// Open MPI (`libmpi.so.40`), loaded at run time with dlopen, so the package neither links nor needs
/// its headers. Only the calls data-parallel training makes are bound, all on MPI_COMM_WORLD. Every
/// call returns 0 on success, else an MPI error code; `mlm_mpi_describe` turns one into text.

/// Loads `library` and binds the calls: 1 on success, else 0 with the reason in `error`.
int mlm_mpi_load(const char *library, char *error, long error_length);
/// MPI_Init_thread (serialized: one thread at a time calls MPI), errors returned instead of aborting.
int mlm_mpi_init(int *rank, int *size);
int mlm_mpi_allreduce_sum_double(double *values, long count);
int mlm_mpi_allreduce_max_double(double *values, long count);
/// Sums `values` (the concatenation of every rank's block, `counts[r]` floats each) over the ranks and
/// leaves rank r's block of the sums in `block` (`counts[rank]` floats).
int mlm_mpi_reduce_scatter_sum_float(const float *values, float *block, const int *counts);
/// Every rank's block (`counts[r]` floats at `offsets[r]` of `values`, in place) to every rank.
int mlm_mpi_allgather_float(float *values, const int *counts, const int *offsets);
int mlm_mpi_broadcast(void *bytes, long count, int root);
int mlm_mpi_barrier(void);
void mlm_mpi_abort(int code);
int mlm_mpi_finalize(void);
void mlm_mpi_describe(int code, char *text, long text_length);

/// The CPUs this process may run on (mpirun binds ranks to cores by default), or 0 if unknown.
int mlm_affinity_cpu_count(void);

#endif
