# `cmake --install build --prefix P`: the CLI, the static libraries with their headers,
# a CMake package (find_package(phaseless) -> phaseless::io, ...) and the Python module
# (python/CMakeLists.txt). Consumers get include paths and link dependencies, never our
# compile options (-march=native stays PRIVATE; build with -DPHASELESS_NATIVE=OFF for
# a library that runs on other CPUs).
include(CMakePackageConfigHelpers)

set(PHASELESS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/phaseless)
set_target_properties(phaseless_core PROPERTIES EXPORT_NAME core)
set_target_properties(phaseless_rules PROPERTIES EXPORT_NAME rules)
set_target_properties(phaseless_io PROPERTIES EXPORT_NAME io)
set_target_properties(phaseless_proto PROPERTIES EXPORT_NAME proto)

install(TARGETS phaseless RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS phaseless_core phaseless_rules phaseless_io phaseless_proto
        EXPORT phaselessTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/sim/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/phaseless/sim
        FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/proto/phaseless.pb.h ${PROJECT_SOURCE_DIR}/proto/phaseless.proto
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/phaseless)
install(EXPORT phaselessTargets NAMESPACE phaseless:: DESTINATION ${PHASELESS_CMAKE_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/phaseless-config.cmake.in
                              ${PROJECT_BINARY_DIR}/phaseless-config.cmake
                              INSTALL_DESTINATION ${PHASELESS_CMAKE_DIR}
                              PATH_VARS CMAKE_INSTALL_BINDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/phaseless-config-version.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/phaseless-config.cmake ${PROJECT_BINARY_DIR}/phaseless-config-version.cmake
        DESTINATION ${PHASELESS_CMAKE_DIR})
