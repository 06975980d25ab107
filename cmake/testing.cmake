# Helpers that register tests with ctest, each with a label:
#   unit         cmocka programs, one per module
#   integration  pytest against the running binary
#   heavy        long or load-heavy tests (normal build only)
#   fuzz-replay  every libFuzzer corpus replayed as a normal test
#   concurrency  multi-threaded unit tests (also run under TSan)

# add_unit_test(<path/test_name> <libs...> [LABELS extra...])
# Source: test/<path>/test_<name>.c ; target: test_<name>
function(add_unit_test name)
    cmake_parse_arguments(T "" "" "LIBS;LABELS" ${ARGN})
    get_filename_component(base ${name} NAME)
    add_executable(test_${base} ${CMAKE_CURRENT_SOURCE_DIR}/test_${base}.c)
    target_link_libraries(test_${base} PRIVATE ${T_LIBS} PkgConfig::CMOCKA
            project_flags)
    target_include_directories(test_${base} PRIVATE ${PROJECT_SOURCE_DIR}/test)
    add_test(NAME test_${base} COMMAND test_${base})
    set_tests_properties(test_${base} PROPERTIES LABELS "unit;${T_LABELS}"
            TIMEOUT 300)
endfunction()

# add_fuzz_target(<name> <libs...>)
# Source: test/fuzz/fuzz_<name>.c ; corpus: test/fuzz/corpus/<name>/
# With -DFUZZ=ON (clang) it is a libFuzzer binary; otherwise a replay main
# runs every corpus file through it as the ctest case fuzz_<name>.
function(add_fuzz_target name)
    set(src ${PROJECT_SOURCE_DIR}/test/fuzz/fuzz_${name}.c)
    set(corpus ${PROJECT_SOURCE_DIR}/test/fuzz/corpus/${name})
    add_executable(fuzz_${name} ${src})
    target_link_libraries(fuzz_${name} PRIVATE ${ARGN} project_flags)
    target_include_directories(fuzz_${name} PRIVATE ${PROJECT_SOURCE_DIR}/test)
    if(FUZZ)
        target_compile_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
        target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    else()
        target_sources(fuzz_${name} PRIVATE
                ${PROJECT_SOURCE_DIR}/test/fuzz/replay_main.c)
    endif()
    if(FUZZ)
        add_test(NAME fuzz_${name} COMMAND fuzz_${name} -runs=0 ${corpus})
    else()
        add_test(NAME fuzz_${name} COMMAND fuzz_${name} ${corpus})
    endif()
    set_tests_properties(fuzz_${name} PROPERTIES LABELS "fuzz-replay"
            TIMEOUT 300)
endfunction()
