#include "phalanx_mpi.h"
#include <limits.h>
#include <mpi.h>

int phx_mpi_initialized(void) {
    int flag = 0;
    MPI_Initialized(&flag);
    return flag;
}

int phx_mpi_init(int *provided) {
    if (phx_mpi_initialized()) {
        return MPI_Query_thread(provided);
    }
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, provided);
    if (rc == MPI_SUCCESS) {
        /* Errors come back as codes, so a failing rank can say what failed before aborting. */
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    return rc;
}

int phx_mpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }

int phx_mpi_finalize(void) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    return finalized ? MPI_SUCCESS : MPI_Finalize();
}

phx_comm phx_mpi_world(void) { return (phx_comm)MPI_COMM_WORLD; }

int phx_mpi_rank(phx_comm comm) {
    int r = -1;
    MPI_Comm_rank((MPI_Comm)comm, &r);
    return r;
}

int phx_mpi_size(phx_comm comm) {
    int s = 0;
    MPI_Comm_size((MPI_Comm)comm, &s);
    return s;
}

static int allreduce(phx_comm comm, void *buffer, size_t count, MPI_Datatype type, size_t width, MPI_Op op) {
    char *p = (char *)buffer;
    while (count > 0) {
        int n = count > (size_t)INT_MAX ? INT_MAX : (int)count;
        int rc = MPI_Allreduce(MPI_IN_PLACE, p, n, type, op, (MPI_Comm)comm);
        if (rc != MPI_SUCCESS) return rc;
        p += (size_t)n * width;
        count -= (size_t)n;
    }
    return MPI_SUCCESS;
}

int phx_mpi_allreduce_sum_float(phx_comm comm, float *buffer, size_t count) {
    return allreduce(comm, buffer, count, MPI_FLOAT, sizeof(float), MPI_SUM);
}

int phx_mpi_allreduce_sum_double(phx_comm comm, double *buffer, size_t count) {
    return allreduce(comm, buffer, count, MPI_DOUBLE, sizeof(double), MPI_SUM);
}

int phx_mpi_allreduce_max_double(phx_comm comm, double *buffer, size_t count) {
    return allreduce(comm, buffer, count, MPI_DOUBLE, sizeof(double), MPI_MAX);
}

int phx_mpi_bcast(phx_comm comm, void *buffer, size_t bytes, int root) {
    char *p = (char *)buffer;
    while (bytes > 0) {
        int n = bytes > (size_t)INT_MAX ? INT_MAX : (int)bytes;
        int rc = MPI_Bcast(p, n, MPI_BYTE, root, (MPI_Comm)comm);
        if (rc != MPI_SUCCESS) return rc;
        p += n;
        bytes -= (size_t)n;
    }
    return MPI_SUCCESS;
}

int phx_mpi_allgather(phx_comm comm, const void *send, void *receive, size_t bytes) {
    if (bytes > (size_t)INT_MAX) return MPI_ERR_COUNT;
    return MPI_Allgather(send, (int)bytes, MPI_BYTE, receive, (int)bytes, MPI_BYTE, (MPI_Comm)comm);
}

int phx_mpi_barrier(phx_comm comm) { return MPI_Barrier((MPI_Comm)comm); }

phx_comm phx_mpi_split(phx_comm comm, int color, int key) {
    MPI_Comm out = MPI_COMM_NULL;
    if (MPI_Comm_split((MPI_Comm)comm, color, key, &out) != MPI_SUCCESS || out == MPI_COMM_NULL) return NULL;
    MPI_Comm_set_errhandler(out, MPI_ERRORS_RETURN);
    return (phx_comm)out;
}

void phx_mpi_free(phx_comm comm) {
    MPI_Comm c = (MPI_Comm)comm;
    if (c != MPI_COMM_WORLD && c != MPI_COMM_NULL) MPI_Comm_free(&c);
}

void phx_mpi_abort(phx_comm comm, int code) { MPI_Abort((MPI_Comm)comm, code); }

const char *phx_mpi_error_string(int code) {
    static _Thread_local char text[MPI_MAX_ERROR_STRING + 1];
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "unknown MPI error";
    text[length] = 0;
    return text;
}

int phx_mpi_library_version(void) {
    return OMPI_MAJOR_VERSION * 10000 + OMPI_MINOR_VERSION * 100 + OMPI_RELEASE_VERSION;
}
