// GoogleTest main for tests that may run under mpirun: MPI is initialised once, and
// only rank 0 prints, so a failure is reported once; every rank runs every test, so
// collective calls inside tests match up.
#include <deal.II/base/mpi.h>

#include <gtest/gtest.h>

int
main(int argc, char **argv)
{
  dealii::Utilities::MPI::MPI_InitFinalize mpi(argc, argv, 1);
  ::testing::InitGoogleTest(&argc, argv);
  if (dealii::Utilities::MPI::this_mpi_process(MPI_COMM_WORLD) != 0)
    delete ::testing::UnitTest::GetInstance()->listeners().Release(
        ::testing::UnitTest::GetInstance()->listeners().default_result_printer());
  const int local = RUN_ALL_TESTS();
  // A failure on any rank fails the run.
  return dealii::Utilities::MPI::max(local, MPI_COMM_WORLD);
}
