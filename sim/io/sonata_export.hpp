#pragma once
// `phaseless export --sonata`: a model's network (its initial weights) or a trace's
// (its last weight snapshot) as a SONATA circuit: nodes.h5 (one node population per
// population, 0-based node ids, bias as a node attribute), edges.h5 (one edge
// population per projection, syn_weight and delay per synapse), node_types.csv,
// edge_types.csv and circuit_config.json. Layout: docs/trace-format.md.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace phaseless::io {

struct sonata_export_summary {
  std::string weights_from;               // "initial weights" or "snapshot at N samples"
  std::size_t node_populations = 0, nodes = 0, edge_populations = 0, edges = 0;
  std::vector<std::filesystem::path> files;
};

// `source`: a model file (.textproto) or a trace (.h5, detected by content). `dir` is
// created if missing; existing export files in it are never overwritten (user_error).
sonata_export_summary export_sonata(const std::filesystem::path& source, const std::filesystem::path& dir,
                                    const std::vector<std::string>& overrides = {});

}  // namespace phaseless::io
