#include "sim/io/version.hpp"

// Only this file sees the definitions, so a new commit recompiles one file.
#ifndef PHASELESS_VERSION
#define PHASELESS_VERSION "unknown"
#endif
#ifndef PHASELESS_GIT_COMMIT
#define PHASELESS_GIT_COMMIT "unknown"
#endif

namespace phaseless::io {

std::string software_version() { return PHASELESS_VERSION; }
std::string git_commit() { return PHASELESS_GIT_COMMIT; }

}  // namespace phaseless::io
