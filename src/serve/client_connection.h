// Noticing a client that went away while its request waits in the queue or generates: the HTTP
// worker's connection socket, found by the request's addresses, is polled for the peer's close.
#pragma once
#include <functional>

namespace httplib {
struct Request;
}

namespace squish::serve {

// A probe that tells whether the client of `req` has closed its connection. It finds the socket on
// its first call and is meant for the worker thread that handles `req` (false when not found).
std::function<bool()> connection_closed_probe(const httplib::Request& req);

// Whether the client of the request this thread is handling has gone away (false outside a
// ClientWatch).
bool client_gone();

// Makes `probe` this thread's client_gone() while it lives.
class ClientWatch {
 public:
  explicit ClientWatch(std::function<bool()> probe);
  ~ClientWatch();
  ClientWatch(const ClientWatch&) = delete;
  ClientWatch& operator=(const ClientWatch&) = delete;

 private:
  std::function<bool()> previous_;
};

}  // namespace squish::serve
