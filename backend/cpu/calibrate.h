/* calibrate.h - measure this machine's CPU ranks for a hardware profile. */
#ifndef ZE_CALIBRATE_H
#define ZE_CALIBRATE_H

#include <mpi.h>

/* Every rank calls it; rank 0 prints one JSON object (see calibrate.c).
 * Returns 0, or -1 when memory ran out. */
int ze_calibrate(MPI_Comm comm, int rank, int size);

#endif
