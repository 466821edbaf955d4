// Subcommand registration: each cli/cmd_*.cpp adds its subcommand through a static registrar.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace squish::cli {

// Adds a subcommand to the app; `setup` creates it and sets its callback.
using CommandSetup = std::function<void(CLI::App& app)>;

// Registers a subcommand at static-initialisation time; `order` sorts the help listing.
struct CommandRegistrar {
  CommandRegistrar(int order, CommandSetup setup);
};

// Runs every registered setup on `app` in order.
void setup_all_commands(CLI::App& app);

}  // namespace squish::cli
