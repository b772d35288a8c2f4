#pragma once
// The software version and the git commit it was built from, fixed when CMake configures
// the build (re-run cmake after a commit to refresh the commit). Printed by
// `phaseless --version` and recorded in every trace's /provenance.
#include <string>

namespace phaseless::io {

std::string software_version();   // e.g. "0.1.0"
std::string git_commit();         // e.g. "318c88f2a1b4" (+ "-dirty"), or "unknown" without git

}  // namespace phaseless::io
