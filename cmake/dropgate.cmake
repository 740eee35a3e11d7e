# dg_module(NAME SOURCES... DEPS ...): one static library per module under src/.
function(dg_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  add_library(dg_${name} STATIC ${M_SOURCES})
  target_include_directories(dg_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(dg_${name} PUBLIC ${M_DEPS})
endfunction()

# dg_unit_test(NAME SOURCE DEPS...): one gtest binary per test file, so one
# module's half-finished change never stops another module's tests building.
function(dg_unit_test name source)
  if(NOT DROPGATE_TESTS)
    return()
  endif()
  find_package(GTest REQUIRED)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE ${ARGN} GTest::gtest GTest::gtest_main)
  # Shared test helpers: #include "support/…".
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${name} PRIVATE
    DG_VECTORS_DIR="${PROJECT_SOURCE_DIR}/tests/vectors")
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit)
endfunction()
