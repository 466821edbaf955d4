// connection_closed_probe / ClientWatch: cpp-httplib hands handlers the request's addresses but not
// its socket, so the socket is found among the process's descriptors by those addresses (once per
// request, on the first probe) and then polled: end of stream or a hang-up means the client left.
#include "client_connection.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdlib>
#include <string>
#include <utility>

namespace squish::serve {
namespace {

thread_local std::function<bool()> current_probe;

int port_of(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  return -1;
}

std::string address_of(const sockaddr_storage& a) {
  char text[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, text, sizeof text);
  else if (a.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, text, sizeof text);
  return text;
}

// The descriptor of the connected socket with these local and remote addresses, or -1.
int find_connection(const std::string& remote_addr, int remote_port, int local_port) {
  if (remote_port < 0 || local_port < 0) return -1;
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int found = -1;
  while (const dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') continue;
    sockaddr_storage peer{}, self{};
    socklen_t peer_len = sizeof peer, self_len = sizeof self;
    const int s = static_cast<int>(fd);
    if (getpeername(s, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0 || port_of(peer) != remote_port) continue;
    if (getsockname(s, reinterpret_cast<sockaddr*>(&self), &self_len) != 0 || port_of(self) != local_port) continue;
    if (address_of(peer) != remote_addr) continue;
    found = s;
    break;
  }
  closedir(dir);
  return found;
}

// True once the peer has closed (or reset) the connection. Bytes waiting to be read (a pipelined
// request) do not count.
bool peer_closed(int fd) {
  pollfd p{};
  p.fd = fd;
  p.events = POLLIN | POLLRDHUP;
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) return true;
  char byte = 0;
  return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

}  // namespace

std::function<bool()> connection_closed_probe(const httplib::Request& req) {
  return [remote_addr = req.remote_addr, remote_port = req.remote_port, local_port = req.local_port,
          fd = -2]() mutable {
    if (fd == -2) fd = find_connection(remote_addr, remote_port, local_port);
    return fd >= 0 && peer_closed(fd);
  };
}

bool client_gone() { return current_probe && current_probe(); }

ClientWatch::ClientWatch(std::function<bool()> probe) : previous_(std::move(current_probe)) {
  current_probe = std::move(probe);
}

ClientWatch::~ClientWatch() { current_probe = std::move(previous_); }

}  // namespace squish::serve
