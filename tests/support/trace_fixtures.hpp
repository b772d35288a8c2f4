#pragma once
// Traces for CLI tests: a finished run of the minimal model, and damaged copies of it
// made by tests/support/hostile_traces.py (KIND names the damage).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "tests/support/cli_support.hpp"

namespace phaseless::test {

// A finished trace of tests/models/good/minimal.textproto (made once per test process).
inline std::filesystem::path minimal_trace() {
  static const std::filesystem::path f = [] {
    const auto p = scratch("phaseless_traces_", "minimal.h5");
    std::filesystem::remove(p);
    REQUIRE(sh(cli() + " run " + src("tests/models/good/minimal.textproto") + " -q --out " + p.string()).status == 0);
    return p;
  }();
  return f;
}

inline std::filesystem::path hostile(const std::string& kind) {
  const auto out = scratch("phaseless_traces_", kind + ".h5");
  REQUIRE(sh("/usr/bin/python3 " + src("tests/support/hostile_traces.py") + " " + kind + " " +
             minimal_trace().string() + " " + out.string())
              .status == 0);
  return out;
}

}  // namespace phaseless::test
