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

# dg_ccache_pch(TARGET): ccache caches the units of a target built with a
# precompiled header only when allowed to be sloppy about what it cannot see
# through that header (ccache's manual, "Precompiled headers"): the #defines
# made in it (pch_defines) and __TIME__-like macros (time_macros; dropgate
# uses none). CMake includes the header with -include, which the manual also
# asks for. Set through the launcher, so a plain `-DCMAKE_CXX_COMPILER_LAUNCHER=ccache`
# keeps hitting; it replaces any sloppiness set in ccache's own configuration
# for these units only.
function(dg_ccache_pch target)
  get_target_property(launcher ${target} CXX_COMPILER_LAUNCHER)
  if(launcher MATCHES "ccache")
    set_target_properties(${target} PROPERTIES CXX_COMPILER_LAUNCHER
      "${CMAKE_COMMAND};-E;env;CCACHE_SLOPPINESS=pch_defines,time_macros;${launcher}")
  endif()
endfunction()
