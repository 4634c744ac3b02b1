// `cinevault users …`: accounts managed offline, like `keys`, on the data directory's
// database (a running daemon sees the change at its next read).
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "cinevault/core/password.hpp"
#include "cinevault/db/database.hpp"
#include "cinevault/db/users.hpp"
#include "daemon.hpp"

namespace cinevault::app {
namespace {

constexpr const char* kUsage =
    "cinevault: usage: cinevault users add NAME --role admin|uploader|viewer [--password-stdin] | list | "
    "passwd NAME [--password-stdin] | remove NAME\n";

int failed(const std::string& message) {
  std::cerr << "cinevault: " << message << "\n";
  return 1;
}

// One line from standard input, without its line end. With a terminal and no
// --password-stdin, asked for twice without echo.
Result<std::string> read_password(bool from_stdin) {
  auto read_line = [](std::string& line) {
    if (!std::getline(std::cin, line)) return false;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
  };
  std::string password;
  if (from_stdin) {
    if (!read_line(password)) return fail(ErrorCode::invalid_argument, "no password on standard input");
    return password;
  }
  if (!::isatty(STDIN_FILENO))
    return fail(ErrorCode::invalid_argument, "standard input is not a terminal: give the password with --password-stdin");
  termios saved{};
  ::tcgetattr(STDIN_FILENO, &saved);
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  std::string again;
  std::cerr << "password: " << std::flush;
  bool read = read_line(password);
  std::cerr << "\nagain: " << std::flush;
  read = read && read_line(again);
  std::cerr << "\n";
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  if (!read) return fail(ErrorCode::invalid_argument, "no password given");
  if (password != again) return fail(ErrorCode::invalid_argument, "the two passwords differ");
  return password;
}

}  // namespace

int users_command(const Config& config, const std::vector<std::string>& args) {
  if (args.empty()) return std::cerr << kUsage, 2;
  const std::string& action = args[0];
  std::optional<std::string> name, role_text;
  bool password_stdin = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--password-stdin") {
      password_stdin = true;
    } else if (arg == "--role" && i + 1 < args.size()) {
      role_text = args[++i];
    } else if (arg.rfind("--role=", 0) == 0) {
      role_text = arg.substr(7);
    } else if (!name && arg.rfind("--", 0) != 0) {
      name = arg;
    } else {
      return std::cerr << kUsage, 2;
    }
  }
  bool well_formed = (action == "add" && name && role_text) || (action == "list" && !name && !role_text) ||
                     ((action == "passwd" || action == "remove") && name && !role_text);
  if (!well_formed || (password_stdin && action != "add" && action != "passwd")) return std::cerr << kUsage, 2;
  std::optional<db::Role> role;
  if (role_text) {
    role = db::parse_role(*role_text);
    if (!role) return std::cerr << "cinevault: the role is admin, uploader or viewer\n", 2;
  }
  if (name) {
    if (auto checked = db::check_user_name(*name); !checked) return std::cerr << "cinevault: " << checked.error().message << "\n", 2;
  }

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  auto database = db::Database::open(config.data_dir / "cinevault.db", 1);
  if (!database) return failed(database.error().message);
  db::Database& db = **database;

  if (action == "list") {
    auto users = db.read([](db::Connection& c) { return db::list_users(c); });
    if (!users) return failed(users.error().message);
    std::printf("%-32s %-9s %s\n", "NAME", "ROLE", "CREATED (unix ms)");
    for (const db::User& user : *users)
      std::printf("%-32s %-9s %lld\n", user.name.c_str(), db::to_string(user.role),
                  static_cast<long long>(user.created_at_ms));
    return 0;
  }
  if (action == "remove") {
    // Their videos pass to the first admin (another, when they are the first).
    auto removed = db.write([&](db::Connection& c) -> Result<std::optional<db::User>> {
      TRY(auto user, db::find_user(c, *name));
      if (!user) return std::optional<db::User>();
      return db::remove_user(c, user->id);
    });
    if (!removed) return failed(removed.error().message);
    if (!*removed) return failed("no user named " + *name);
    std::cerr << "removed user " << *name << "; their videos now belong to " << (*removed)->name << "\n";
    return 0;
  }
  // add, passwd: the hash is made before the write transaction (it takes a tenth of a second).
  auto password = read_password(password_stdin);
  if (!password) return failed(password.error().message);
  auto hash = hash_password(*password);
  if (!hash) return failed(hash.error().message);
  if (action == "add") {
    auto user = db.write([&](db::Connection& c) { return db::create_user(c, *name, *role, *hash); });
    if (!user) return failed(user.error().message);
    std::cerr << "added user " << user->name << " (" << db::to_string(user->role) << ")\n";
    return 0;
  }
  auto changed = db.write([&](db::Connection& c) -> Result<bool> {
    TRY(auto user, db::find_user(c, *name));
    if (!user) return false;
    return db::set_user_password(c, user->id, *hash);
  });
  if (!changed) return failed(changed.error().message);
  if (!*changed) return failed("no user named " + *name);
  std::cerr << "changed the password of " << *name << "\n";
  return 0;
}

}  // namespace cinevault::app
