// Open MPI loaded at run time with dlopen (as CTensorKernels loads oneDNN), so the package builds and runs
// without it. Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are addresses of objects the
// library exports (`ompi_mpi_comm_world`, …), so dlsym finds them; MPICH's integer handles are not
// supported. Constants are those of Open MPI's mpi.h (4.x).
#define _GNU_SOURCE
#include "CMPI.h"
#include <dlfcn.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

typedef void *handle;
enum { SUCCESS = 0, THREAD_SERIALIZED = 2, MAX_ERROR_STRING = 256 };
#define IN_PLACE ((void *)1)
// MPI counts are C ints: longer buffers go in pieces.
static const long piece = 1L << 30;

static struct {
    void *library;
    int (*init_thread)(int *, char ***, int, int *);
    int (*initialized)(int *);
    int (*finalized)(int *);
    int (*comm_rank)(handle, int *);
    int (*comm_size)(handle, int *);
    int (*comm_set_errhandler)(handle, handle);
    int (*allreduce)(const void *, void *, int, handle, handle, handle);
    int (*reduce_scatter)(const void *, void *, const int *, handle, handle, handle);
    int (*allgatherv)(const void *, int, handle, void *, const int *, const int *, handle, handle);
    int (*bcast)(void *, int, handle, int, handle);
    int (*barrier)(handle);
    int (*abort)(handle, int);
    int (*finalize)(void);
    int (*error_string)(int, char *, int *);
    handle world, float_type, double_type, byte_type, sum, max, errors_return;
} mpi;

int mlm_mpi_load(const char *library, char *error, long error_length) {
    if (mpi.library) return 1;
    // Global: Open MPI's own plugins, which it dlopens, resolve their symbols against libmpi.
    void *lib = dlopen(library, RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
        snprintf(error, (size_t)error_length, "%s", dlerror());
        return 0;
    }
#define BIND(field, name)                                                                             \
    do {                                                                                              \
        *(void **)(&mpi.field) = dlsym(lib, name);                                                    \
        if (!mpi.field) {                                                                             \
            snprintf(error, (size_t)error_length, "%s lacks %s (not Open MPI 4.x?)", library, name); \
            memset(&mpi, 0, sizeof mpi);                                                              \
            return 0;                                                                                 \
        }                                                                                             \
    } while (0)
    BIND(init_thread, "MPI_Init_thread");
    BIND(initialized, "MPI_Initialized");
    BIND(finalized, "MPI_Finalized");
    BIND(comm_rank, "MPI_Comm_rank");
    BIND(comm_size, "MPI_Comm_size");
    BIND(comm_set_errhandler, "MPI_Comm_set_errhandler");
    BIND(allreduce, "MPI_Allreduce");
    BIND(reduce_scatter, "MPI_Reduce_scatter");
    BIND(allgatherv, "MPI_Allgatherv");
    BIND(bcast, "MPI_Bcast");
    BIND(barrier, "MPI_Barrier");
    BIND(abort, "MPI_Abort");
    BIND(finalize, "MPI_Finalize");
    BIND(error_string, "MPI_Error_string");
    BIND(world, "ompi_mpi_comm_world");
    BIND(float_type, "ompi_mpi_float");
    BIND(double_type, "ompi_mpi_double");
    BIND(byte_type, "ompi_mpi_byte");
    BIND(sum, "ompi_mpi_op_sum");
    BIND(max, "ompi_mpi_op_max");
    BIND(errors_return, "ompi_mpi_errors_return");
#undef BIND
    mpi.library = lib;
    return 1;
}

int mlm_mpi_init(int *rank, int *size) {
    int done = 0, provided = 0, status;
    if ((status = mpi.initialized(&done)) != SUCCESS) return status;
    if (!done && (status = mpi.init_thread(NULL, NULL, THREAD_SERIALIZED, &provided)) != SUCCESS) return status;
    // A failed call (a peer gone) returns its code, so the caller can say what happened before aborting.
    if ((status = mpi.comm_set_errhandler(mpi.world, mpi.errors_return)) != SUCCESS) return status;
    if ((status = mpi.comm_rank(mpi.world, rank)) != SUCCESS) return status;
    return mpi.comm_size(mpi.world, size);
}

static int allreduce(void *values, long count, handle type, long element_size, handle op) {
    for (long start = 0; start < count; start += piece) {
        long n = count - start < piece ? count - start : piece;
        int status = mpi.allreduce(IN_PLACE, (char *)values + start * element_size, (int)n, type, op, mpi.world);
        if (status != SUCCESS) return status;
    }
    return SUCCESS;
}

int mlm_mpi_allreduce_sum_double(double *values, long count) {
    return allreduce(values, count, mpi.double_type, sizeof(double), mpi.sum);
}

int mlm_mpi_allreduce_max_double(double *values, long count) {
    return allreduce(values, count, mpi.double_type, sizeof(double), mpi.max);
}

int mlm_mpi_reduce_scatter_sum_float(const float *values, float *block, const int *counts) {
    return mpi.reduce_scatter(values, block, counts, mpi.float_type, mpi.sum, mpi.world);
}

int mlm_mpi_allgather_float(float *values, const int *counts, const int *offsets) {
    return mpi.allgatherv(IN_PLACE, 0, mpi.float_type, values, counts, offsets, mpi.float_type, mpi.world);
}

int mlm_mpi_broadcast(void *bytes, long count, int root) {
    for (long start = 0; start < count; start += piece) {
        long n = count - start < piece ? count - start : piece;
        int status = mpi.bcast((char *)bytes + start, (int)n, mpi.byte_type, root, mpi.world);
        if (status != SUCCESS) return status;
    }
    return SUCCESS;
}

int mlm_mpi_barrier(void) { return mpi.barrier(mpi.world); }

void mlm_mpi_abort(int code) {
    if (mpi.library) mpi.abort(mpi.world, code);
}

int mlm_mpi_finalize(void) {
    int done = 0;
    if (!mpi.library || mpi.finalized(&done) != SUCCESS || done) return SUCCESS;
    return mpi.finalize();
}

void mlm_mpi_describe(int code, char *text, long text_length) {
    char buffer[MAX_ERROR_STRING + 1] = {0};
    int length = 0;
    if (mpi.library && mpi.error_string(code, buffer, &length) == SUCCESS)
        snprintf(text, (size_t)text_length, "%s", buffer);
    else
        snprintf(text, (size_t)text_length, "MPI error %d", code);
}

int mlm_affinity_cpu_count(void) {
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
#else
    return 0;
#endif
}
