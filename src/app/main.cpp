// cinevault: command line parsing and dispatch.
#include <iostream>
#include <string>
#include <vector>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "cinevault/core/config.hpp"
#include "daemon.hpp"

namespace {

using namespace cinevault;

constexpr const char* kVersion = "0.1.0";

void print_help() {
  std::cout << "cinevault " << kVersion << " - a self-hosted video library server\n\n"
            << "usage:\n"
            << "  cinevault [serve] [options]        run the daemon in the foreground\n"
            << "  cinevault keys create [NAME] [--user USER]\n"
            << "                                     create an API key of USER (default: the first admin)\n"
            << "                                     and print it once\n"
            << "  cinevault keys list                list API keys\n"
            << "  cinevault keys revoke ID           revoke an API key\n"
            << "  cinevault users add NAME --role admin|uploader|viewer [--password-stdin]\n"
            << "                                     add a user (the password from standard input)\n"
            << "  cinevault users list               list users and their roles\n"
            << "  cinevault users passwd NAME [--password-stdin]\n"
            << "                                     change a user's password\n"
            << "  cinevault users remove NAME        remove a user (their videos pass to an admin)\n"
            << "  cinevault share-key rotate         end every share link (daemon stopped; else the API)\n"
            << "  cinevault import [--user NAME] [--visibility V] [--folder-tags] [--json] PATH...\n"
            << "                                     import the videos in these files and folders (through the\n"
            << "                                     daemon when one runs on the data directory); again: adds nothing\n"
            << "  cinevault gc                       remove unreferenced objects (daemon stopped)\n"
            << "  cinevault media-worker             (started by the daemon: one probe or transcode)\n"
            << "  cinevault --print-config           print the effective configuration as JSON\n"
            << "  cinevault --help | --version\n\n"
            << "options:\n"
            << "  --config FILE        JSON configuration file (see config/cinevault.json)\n"
            << "  --listen HOST:PORT   same as --http.listen (default 127.0.0.1:8080)\n"
            << "  --data DIR           same as --data_dir (default ./data)\n"
            << "  --log-level LEVEL    same as --log_level\n"
            << "  --KEY VALUE          any configuration key below, e.g. --http.max_connections 200\n\n"
            << "configuration keys (default):\n";
  for (auto& key : config_keys())
    std::cout << "  " << key.name << " (" << key.default_value << ")\n      " << key.description << "\n";
}

int usage_error(const std::string& message) {
  std::cerr << "cinevault: " << message << " (see cinevault --help)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Everything this process creates (the data directory, the database, objects, staged
  // uploads, keys) is its owner's alone, whatever umask it was started with.
  ::umask(077);
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> overrides;
  std::string config_file;
  bool print_config = false;

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      print_help();
      return 0;
    }
    if (arg == "--version") {
      std::cout << "cinevault " << kVersion << "\n";
      return 0;
    }
    if (arg == "--print-config") {
      print_config = true;
      continue;
    }
    // The users and keys commands' own options (the rest are configuration keys).
    if (!positional.empty() && positional[0] == "users" &&
        (arg == "--password-stdin" || arg == "--role" || arg.rfind("--role=", 0) == 0)) {
      positional.push_back(arg);
      if (arg == "--role" && i + 1 < args.size()) positional.push_back(args[++i]);
      continue;
    }
    if (!positional.empty() && positional[0] == "import" && (arg == "--folder-tags" || arg == "--json")) {
      positional.push_back(arg);
      continue;
    }
    if (!positional.empty() && positional[0] == "import" && (arg == "--user" || arg == "--visibility") &&
        i + 1 < args.size()) {
      positional.push_back(arg);
      positional.push_back(args[++i]);
      continue;
    }
    if (!positional.empty() && positional[0] == "keys" && arg == "--user" && i + 1 < args.size()) {
      positional.push_back(arg);
      positional.push_back(args[++i]);
      continue;
    }
    if (arg.rfind("--", 0) == 0) {
      std::string name = arg.substr(2), value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      } else {
        if (i + 1 >= args.size()) return usage_error("option --" + name + " needs a value");
        value = args[++i];
      }
      if (name == "config") config_file = value;
      else if (name == "listen") overrides.emplace_back("http.listen", value);
      else if (name == "data") overrides.emplace_back("data_dir", value);
      else if (name == "log-level") overrides.emplace_back("log_level", value);
      else overrides.emplace_back(name, value);
      continue;
    }
    positional.push_back(arg);
  }

  // Defaults, then the file, then the flags.
  Config config;
  if (!config_file.empty()) {
    if (auto applied = apply_config_file(config, config_file); !applied) {
      std::cerr << "cinevault: " << applied.error().message << "\n";
      return 2;
    }
  }
  for (auto& [key, value] : overrides) {
    if (auto applied = apply_config_value(config, key, value); !applied) {
      std::cerr << "cinevault: " << applied.error().message << "\n";
      return 2;
    }
  }
  if (print_config) {
    std::cout << config_to_json(config).dump(2) << "\n";
    return 0;
  }

  std::string command = positional.empty() ? "serve" : positional[0];
  std::vector<std::string> rest(positional.begin() + (positional.empty() ? 0 : 1), positional.end());
  if (command == "serve" && rest.empty()) return app::serve(config);
  if (command == "keys") return app::keys_command(config, rest);
  if (command == "users") return app::users_command(config, rest);
  if (command == "import") return app::import_command(config, rest);
  if (command == "gc" && rest.empty()) return app::gc_command(config);
  if (command == "share-key" && rest.size() == 1 && rest[0] == "rotate") return app::rotate_share_key_command(config);
  if (command == "media-worker" && rest.empty()) app::media_worker_command(config);
  return usage_error("unknown command '" + command + (rest.empty() ? "" : " " + rest[0]) + "'");
}
