# rcache_add_test(NAME <name> SOURCES <files...> [LIBS <libs...>] [LABELS <l...>]
#                 [TIMEOUT <s>])
# One executable and one ctest test per test file. Tests that must also run
# under ThreadSanitizer carry the label "tsan"; `make test-tsan` runs those.
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

function(rcache_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE PkgConfig::CMOCKA ${T_LIBS})
  target_compile_definitions(${T_NAME} PRIVATE
      RCACHE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      RCACHE_TRACES_DIR="${PROJECT_SOURCE_DIR}/../shared/traces")
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT})
  if(T_LABELS)
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()
