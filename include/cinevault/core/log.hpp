// Logging setup: one spdlog logger to stderr (journald adds its own timestamps under systemd).
#pragma once

#include <string>

#include "cinevault/core/result.hpp"

namespace cinevault {

Result<void> init_logging(const std::string& level);

}  // namespace cinevault
