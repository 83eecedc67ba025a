# package.consumer, run as cmake -P: install the build tree into a prefix under the build
# directory, check what was installed, configure and build tests/package/consumer
# against it (find_package(scorefp) through CMAKE_PREFIX_PATH only) and run it on one
# rank. Every stage that fails stops the test with a message naming the stage.
#
#   -DBUILD_DIR=  scorefp's build directory      -DCONSUMER_DIR= the consumer's sources
#   -DWORK_DIR=   scratch directory (emptied)    -DMPIEXEC=      mpirun
#   -DGENERATOR=  -DCXX_COMPILER=  -DLAUNCHER=   how scorefp itself is built (optional)
cmake_minimum_required(VERSION 3.13.4)
foreach(variable BUILD_DIR CONSUMER_DIR WORK_DIR MPIEXEC)
  if(NOT ${variable})
    message(FATAL_ERROR "package.consumer: -D${variable}=... is missing")
  endif()
endforeach()
set(prefix ${WORK_DIR}/install)
set(consumer_build ${WORK_DIR}/consumer-build)
string(REGEX REPLACE "([][+.*?()^$|\\])" "\\\\\\1" prefix_regex "${prefix}")
string(TIMESTAMP started "%s")

function(fail stage)
  message(FATAL_ERROR "package.consumer: ${stage} failed: ${ARGN}")
endfunction()

# Run a command, echoing it and (unless QUIET follows the stage) its output; fail the
# stage when it exits non-zero. The output is left in `output`.
function(run stage)
  set(command ${ARGN})
  set(quiet FALSE)
  if(ARGV1 STREQUAL "QUIET")
    set(quiet TRUE)
    list(REMOVE_AT command 0)
  endif()
  string(REPLACE ";" " " shown "${command}")
  message(STATUS "[${stage}] ${shown}")
  string(TIMESTAMP begin "%s")
  execute_process(COMMAND ${command} RESULT_VARIABLE status
                  OUTPUT_VARIABLE output ERROR_VARIABLE output)
  string(TIMESTAMP end "%s")
  math(EXPR seconds "${end} - ${begin}")
  if(NOT quiet)
    message("${output}")
  endif()
  message(STATUS "[${stage}] exit status ${status} after ${seconds} s")
  if(NOT status STREQUAL "0")
    fail(${stage} "'${shown}' exited with ${status}; its output is above")
  endif()
  set(output "${output}" PARENT_SCOPE)
endfunction()

# The dynamic loader resolves binary's libscorefp to the one installed in the prefix
# (through RPATH: no LD_LIBRARY_PATH) and finds every other library.
function(check_loads_installed_library stage binary)
  run(${stage} QUIET ldd ${binary})
  string(REGEX MATCHALL "[^\n]*(libscorefp|not found)[^\n]*" lines "${output}")
  string(REPLACE ";" "\n" lines "${lines}")
  message("${lines}")
  if(output MATCHES "not found")
    fail(${stage} "${binary} needs libraries the loader does not find (above)")
  endif()
  if(NOT output MATCHES "libscorefp\\.so[^ ]* => ${prefix_regex}/(bin/\\.\\./)?lib")
    fail(${stage} "${binary} does not load libscorefp from ${prefix}/lib (above)")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

# 1. Install, as a user would.
run(install ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# 2. What was installed: the library, the program, the headers and the package files,
#    and no other binary (no test or benchmark executable).
file(GLOB scorefp_config ${prefix}/lib*/cmake/scorefp/scorefpConfig.cmake
                         ${prefix}/lib/*/cmake/scorefp/scorefpConfig.cmake)
if(NOT scorefp_config)
  fail(install "no lib*/cmake/scorefp/scorefpConfig.cmake under ${prefix}")
endif()
get_filename_component(package_dir ${scorefp_config} DIRECTORY)
foreach(file bin/scorefp include/scorefp/process/process_registry.h
             include/scorefp/data/data_set.h)
  if(NOT EXISTS ${prefix}/${file})
    fail(install "${prefix}/${file} was not installed")
  endif()
endforeach()
foreach(file scorefpConfigVersion.cmake scorefpTargets.cmake)
  if(NOT EXISTS ${package_dir}/${file})
    fail(install "${package_dir}/${file} was not installed")
  endif()
endforeach()
file(GLOB_RECURSE installed RELATIVE ${prefix} ${prefix}/*)
set(binaries)
foreach(file ${installed})
  if(NOT IS_SYMLINK ${prefix}/${file})
    file(READ ${prefix}/${file} magic LIMIT 4 HEX)
    if(magic STREQUAL "7f454c46")
      list(APPEND binaries ${file})
    endif()
  endif()
endforeach()
list(LENGTH installed installed_count)
message(STATUS "[install] ${installed_count} files; binaries: ${binaries}")
foreach(file ${binaries})
  if(NOT file MATCHES "^bin/scorefp$|^lib[^/]*/(.*/)?libscorefp\\.so")
    fail(install "${file} was installed: only bin/scorefp and libscorefp are binaries "
                 "of the package (no test or benchmark executables)")
  endif()
endforeach()
if(NOT "bin/scorefp" IN_LIST binaries OR NOT binaries MATCHES "libscorefp\\.so")
  fail(install "bin/scorefp or libscorefp is missing or not a binary: ${binaries}")
endif()

# 3. The installed program finds the installed libscorefp by its RPATH (no
#    LD_LIBRARY_PATH) and runs.
check_loads_installed_library(program ${prefix}/bin/scorefp)
run(program ${MPIEXEC} -np 1 ${prefix}/bin/scorefp --help)
if(NOT output MATCHES "Usage: ")
  fail(program "'scorefp --help' printed no usage")
endif()

# 4. Configure the consumer against the prefix only.
set(configure_arguments -S ${CONSUMER_DIR} -B ${consumer_build}
  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
if(GENERATOR)
  list(APPEND configure_arguments -G ${GENERATOR})
endif()
if(CXX_COMPILER)
  list(APPEND configure_arguments -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
endif()
if(LAUNCHER)
  list(APPEND configure_arguments -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
run(configure ${CMAKE_COMMAND} ${configure_arguments})
file(STRINGS ${consumer_build}/CMakeCache.txt found_dir REGEX "^scorefp_DIR:")
if(NOT found_dir STREQUAL "scorefp_DIR:PATH=${package_dir}")
  fail(configure "the consumer found another scorefp: '${found_dir}', not ${package_dir}")
endif()
file(STRINGS ${consumer_build}/CMakeCache.txt torch_dir REGEX "^Torch_DIR:")
if(torch_dir)
  fail(configure "the consumer looked for Torch (${torch_dir}); it must not need it")
endif()

# 5. Build it (one translation unit).
run(build ${CMAKE_COMMAND} --build ${consumer_build} --parallel 2)
set(consumer ${consumer_build}/consumer)
run(build QUIET readelf -d ${consumer})
string(REGEX MATCHALL "[^\n]*(NEEDED|RUNPATH|RPATH)[^\n]*" lines "${output}")
string(REPLACE ";" "\n" lines "${lines}")
message("${lines}")
if(output MATCHES "libtorch|libc10")
  fail(build "the consumer links Torch itself; libscorefp should hide it")
endif()
check_loads_installed_library(build ${consumer})

# 6. Run it: it compares scorefp's numbers with closed forms and exits non-zero on a
#    mismatch.
run(run ${MPIEXEC} -np 1 ${consumer})
if(NOT output MATCHES "consumer: all numbers match")
  fail(run "the consumer exited with 0 but did not report its numbers")
endif()

string(TIMESTAMP finished "%s")
math(EXPR seconds "${finished} - ${started}")
message(STATUS "package.consumer: passed in ${seconds} s")
