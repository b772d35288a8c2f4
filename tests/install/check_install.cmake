# cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DPYTHON=... -DWITH_PYTHON=ON [-DPYTHON_ENV="VAR=value;..."]
#       -P check_install.cmake   (PYTHON_ENV: the sanitizer runtimes a sanitized build preloads)
# Installs the build into WORK_DIR/prefix and uses it as an outside project would.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(f bin/phaseless include/phaseless/sim/io/session.hpp include/phaseless/phaseless.pb.h
          lib/cmake/phaseless/phaseless-config.cmake lib/cmake/phaseless/phaselessTargets.cmake
          lib/libphaseless_io.a)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
# Our CPU tuning and warnings must not reach consumers through the exported targets.
file(GLOB exported ${prefix}/lib/cmake/phaseless/*.cmake)
foreach(f ${exported})
  file(READ ${f} text)
  if(text MATCHES "march|Wpedantic")
    message(FATAL_ERROR "${f} passes our compile options on to consumers")
  endif()
endforeach()

run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/consumer -B ${WORK_DIR}/consumer
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer -j2)
set(model ${SOURCE_DIR}/tests/models/good/minimal.textproto)
run(${WORK_DIR}/consumer/consumer ${model})
message(STATUS "${last_output}")
run(${prefix}/bin/phaseless validate ${model})

if(WITH_PYTHON)
  file(GLOB site LIST_DIRECTORIES true ${prefix}/lib/python3*/dist-packages)
  run(${CMAKE_COMMAND} -E env PYTHONPATH=${site} ${PYTHON_ENV} ${PYTHON} -c
      "import phaseless, sys; assert phaseless.__file__.startswith('${prefix}'), phaseless.__file__; r = phaseless.load('${model}').run(progress=False); sys.exit(0 if r.samples[-1] == 10 else 1)")
endif()
message(STATUS "install, find_package consumer, installed CLI and Python module: OK")
