/* allreduce.c — what one all-reduce of a model's gradients costs between
 * the ranks here (mpirun -np N build/bench/allreduce FLOATS...): the
 * median of 50 MPI_Allreduce sums of FLOATS floats, in place as tg-mpi
 * does them (docs/SCALING.md). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    enum { RUNS = 50 };
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int a = 1; a < argc; a++) {
        int n = atoi(argv[a]);
        float *x = calloc((size_t)n, sizeof *x);
        double t[RUNS];
        if (!x) MPI_Abort(MPI_COMM_WORLD, 1);
        for (int r = 0; r < RUNS; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            t[r] = MPI_Wtime() - t0;
        }
        qsort(t, RUNS, sizeof *t, by_value);
        if (rank == 0)
            printf("ALLREDUCE %d ranks %d floats (%.2f MB): %.3f ms median\n", size, n, n * 4 / 1e6, 1e3 * t[RUNS / 2]);
        free(x);
    }
    MPI_Finalize();
    return 0;
}
