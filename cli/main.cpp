// squish: the command-line entry point. Errors print as one line and exit non-zero.
#include <cstdio>
#include <exception>
#include <map>
#include <new>

#include "command.h"
#include "squish/common/atomic_file.h"
#include "squish/common/error.h"

namespace squish::cli {

static std::multimap<int, CommandSetup>& registry() {
  static std::multimap<int, CommandSetup> r;
  return r;
}

CommandRegistrar::CommandRegistrar(int order, CommandSetup setup) {
  registry().emplace(order, std::move(setup));
}

void setup_all_commands(CLI::App& app) {
  for (auto& [order, setup] : registry()) setup(app);
}

}  // namespace squish::cli

int main(int argc, char** argv) {
  squish::install_interrupt_cleanup();
  CLI::App app{"squish: quantize language models, measure the loss, run them on the CPU"};
  app.set_version_flag("--version", std::string("squish ") + SQUISH_VERSION);
  app.require_subcommand(1);
  squish::cli::setup_all_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const squish::Error& e) {
    std::fprintf(stderr, "squish: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "squish: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "squish: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
