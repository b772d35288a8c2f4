#pragma once
// The documented limits of a model and of the command line (docs/limits.md), and the
// memory a model needs, estimated before anything is allocated so that an oversized
// model is refused with a message instead of being killed by the kernel.
#include <cstdint>
#include <string>

#include "phaseless.pb.h"

namespace phaseless::io {

inline constexpr std::uint32_t max_population_size = 10'000'000;
inline constexpr std::uint32_t max_delay_ticks = 64;                  // uniform delays (per-synapse classes)
inline constexpr std::uint32_t max_constant_delay_ticks = 1'000'000;  // the event calendar spans the longest delay
inline constexpr std::uint32_t max_threads = 256;                     // execution.threads and --threads
inline constexpr std::uint32_t max_unroll = 10000;
inline constexpr std::size_t max_reported_problems = 50;
// record.events (recording inside samples): the request's size is bounded so that a trace
// stays a file one can open; the totals are checked once the run's sizes are known.
inline constexpr int max_recorded_populations = 64;
inline constexpr int max_recorded_samples = 100;
inline constexpr int max_recorded_neurons = 1024;
inline constexpr std::uint64_t max_recorded_messages = 10'000'000;     // in all samples (~34 bytes each)
inline constexpr std::uint64_t max_recorded_state_values = 50'000'000;  // ticks x neurons x elements, all samples              // validate lists the first 50, then a count

// Bytes of physical memory of this machine (sysconf), the budget a model must fit in.
std::uint64_t physical_memory_bytes();

// "" for a regular file (or a symlink to one) or a path that does not exist; else what
// it is ("a directory", "a FIFO (named pipe)", "a character device", ...). Opening a FIFO
// or a device would block or read forever, so model and data paths are checked first.
std::string special_file_kind(const std::string& path);

// "1.5 GB", "12 MB", "800 bytes".
std::string bytes_text(std::uint64_t bytes);

}  // namespace phaseless::io
