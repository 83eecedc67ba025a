# Environment for running scorefp under OpenMPI (sourced by the scripts).
# OpenMPI refuses to run as root unless told to; CI and fresh machines run as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Each rank runs one thread: the cores belong to MPI.
export OMP_NUM_THREADS=1 DEAL_II_NUM_THREADS=1
