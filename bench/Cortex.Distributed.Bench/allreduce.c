/* The same all-reduce measurement in C, to show what the P/Invoke binding costs (build: mpicc -O2 allreduce.c). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
static int cmp(const void *a, const void *b) { double d = *(const double *)a - *(const double *)b; return (d > 0) - (d < 0); }
int main(int argc, char **argv) {
    int rank, size, sizes[] = {1, 1024, 16384, 100000, 1 << 20, 4 << 20};
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (rank == 0) printf("ranks=%d\nfloats,median_us\n", size);
    for (int s = 0; s < 6; s++) {
        int n = sizes[s], reps = n >= (1 << 20) ? 20 : 200;
        float *buf = calloc(n, sizeof(float));
        double *t = malloc(reps * sizeof(double));
        for (int i = 0; i < 10; i++) MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        for (int i = 0; i < reps; i++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            t[i] = (MPI_Wtime() - t0) * 1e6;
        }
        qsort(t, reps, sizeof(double), cmp);
        if (rank == 0) printf("%d,%.1f\n", n, t[reps / 2]);
        free(buf); free(t);
    }
    MPI_Finalize();
    return 0;
}
