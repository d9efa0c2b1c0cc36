/* The reference for `phalanx bench allreduce`: plain in-place MPI_Allreduce of floats,
 * 4 KB to 64 MB, median of 7 repeats of the slowest rank, algorithm bandwidth.
 *   mpicc -O2 -o /tmp/allreduce bench/mpi/allreduce.c && mpirun -np 2 /tmp/allreduce */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank == 0) printf("command: mpirun -np %d allreduce (plain C MPI_Allreduce, MPI_IN_PLACE, MPI_FLOAT, MPI_SUM)\n%12s %18s\n", size, "bytes", "allreduce GB/s");
    for (long bytes = 4096; bytes <= (64L << 20); bytes *= 4) {
        long n = bytes / 4;
        float *buffer = malloc(bytes);
        for (long i = 0; i < n; i++) buffer[i] = 1;
        long iterations = (64L << 20) / bytes / 4;
        if (iterations < 3) iterations = 3;
        if (iterations > 200) iterations = 200;
        double samples[7];
        MPI_Allreduce(MPI_IN_PLACE, buffer, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        for (int r = 0; r < 7; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double start = MPI_Wtime();
            for (long i = 0; i < iterations; i++) MPI_Allreduce(MPI_IN_PLACE, buffer, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            samples[r] = (MPI_Wtime() - start) / iterations;
        }
        qsort(samples, 7, sizeof(double), compare);
        double median = samples[3];
        MPI_Allreduce(MPI_IN_PLACE, &median, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (rank == 0) printf("%12ld %18.2f\n", bytes, bytes / 1e9 / median);
        free(buffer);
    }
    MPI_Finalize();
    return 0;
}
