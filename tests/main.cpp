// The doctest main shared by every suite, with one listener: it tells tests/support.hpp's
// skip_cuda() which test case is running, and prints at the end how many cases skipped a CUDA
// part for want of a GPU.
// Whole test cases that need a GPU are doctest-skipped (test::needs_gpu()) and appear in
// doctest's own "skipped" count.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdio>

#include "support.hpp"

namespace {

struct CudaSkipListener : doctest::IReporter {
  explicit CudaSkipListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {
    const std::size_t n = reel::test::cuda_skips().cases.size();
    if (n > 0) std::printf("[doctest] test cases with CUDA parts skipped, no GPU: %zu\n", n);
  }
  void test_case_start(const doctest::TestCaseData& data) override {
    reel::test::cuda_skips().current_case = data.m_name;
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

REGISTER_LISTENER("cuda_skips", 1, CudaSkipListener);

namespace {
// Before any test runs (static initialisation; the switch itself is constant-initialised).
const bool tf32_conv_off = [] {
  reel::test::tf32_conv_default() = reel::cuda::allow_tf32_conv();
  reel::cuda::set_allow_tf32_conv(false);
  return true;
}();
}  // namespace
