// The daemon and the offline commands, as called by main().
#pragma once

#include <string>
#include <vector>

#include "cinevault/core/config.hpp"

namespace cinevault::app {

int serve(const Config& config);
int keys_command(const Config& config, std::vector<std::string> args);
int gc_command(const Config& config);
// import [--user NAME] [--visibility V] [--folder-tags] [--json] PATH...
int import_command(const Config& config, const std::vector<std::string>& args);
int rotate_share_key_command(const Config& config);
// users add NAME --role ROLE [--password-stdin] | list | passwd NAME [--password-stdin] | remove NAME
int users_command(const Config& config, const std::vector<std::string>& args);
// Never returns: the worker ends with _exit (no static destructors, no leak check, which
// would need system calls its sandbox forbids).
[[noreturn]] void media_worker_command(const Config& config);

}  // namespace cinevault::app
