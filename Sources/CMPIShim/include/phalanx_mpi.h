// A tiny C layer over OpenMPI for Swift: OpenMPI's handles (MPI_COMM_WORLD, MPI_FLOAT,
// MPI_SUM, MPI_IN_PLACE) are macros over global structs that Swift cannot import, so
// these functions take plain C types and an opaque communicator pointer.
// Every function returns an MPI error code (MPI_SUCCESS = 0) unless said otherwise.
#ifndef PHALANX_MPI_H
#define PHALANX_MPI_H

#include <stddef.h>
#include <stdint.h>

typedef void *phx_comm;

/// 1 when MPI_Init has been called in this process.
int phx_mpi_initialized(void);
/// MPI_Init_thread(MPI_THREAD_MULTIPLE) unless already initialised; `provided` gets the level
/// (3 = MPI_THREAD_MULTIPLE).
int phx_mpi_init(int *provided);
int phx_mpi_thread_multiple(void);
int phx_mpi_finalize(void);
phx_comm phx_mpi_world(void);
int phx_mpi_rank(phx_comm comm);
int phx_mpi_size(phx_comm comm);
/// In-place sums (MPI_IN_PLACE); counts beyond INT_MAX go in chunks.
int phx_mpi_allreduce_sum_float(phx_comm comm, float *buffer, size_t count);
int phx_mpi_allreduce_sum_double(phx_comm comm, double *buffer, size_t count);
int phx_mpi_allreduce_max_double(phx_comm comm, double *buffer, size_t count);
int phx_mpi_bcast(phx_comm comm, void *buffer, size_t bytes, int root);
/// Every rank sends `bytes` and receives size × bytes, ordered by rank.
int phx_mpi_allgather(phx_comm comm, const void *send, void *receive, size_t bytes);
int phx_mpi_barrier(phx_comm comm);
/// MPI_Comm_split; NULL on failure.
phx_comm phx_mpi_split(phx_comm comm, int color, int key);
void phx_mpi_free(phx_comm comm);
/// MPI_Abort: ends every process of the job. Does not return.
void phx_mpi_abort(phx_comm comm, int code);
/// The text of an MPI error code (a static buffer per thread).
const char *phx_mpi_error_string(int code);
/// OMPI_MAJOR_VERSION.OMPI_MINOR_VERSION.OMPI_RELEASE_VERSION as a number: 40104 for 4.1.4.
int phx_mpi_library_version(void);

#endif
