// The daemon and the offline commands, as called by main().
#pragma once

#include <string>
#include <vector>

#include "cinevault/core/config.hpp"

namespace cinevault::app {

int serve(const Config& config);
int keys_command(const Config& config, const std::vector<std::string>& args);
int gc_command(const Config& config);

}  // namespace cinevault::app
