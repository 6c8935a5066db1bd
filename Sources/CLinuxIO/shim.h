#ifndef CLINUXIO_SHIM_H
#define CLINUXIO_SHIM_H
// Linux I/O headers that Glibc's Swift module does not import.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <poll.h>

// accept4 is a GNU extension Glibc's module hides; declare a wrapper with the flags we need.
int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);
static inline int clinuxio_accept_nonblocking(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

/// Names the calling thread (visible in top -H, gdb, perf).
static inline void clinuxio_set_thread_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

// Constants that are enums or macros Swift imports awkwardly.
static inline unsigned int clinuxio_epollin(void) { return EPOLLIN; }
static inline unsigned int clinuxio_epollout(void) { return EPOLLOUT; }
static inline unsigned int clinuxio_epollerr(void) { return EPOLLERR; }
static inline unsigned int clinuxio_epollhup(void) { return EPOLLHUP; }
static inline unsigned int clinuxio_epollrdhup(void) { return EPOLLRDHUP; }
static inline unsigned int clinuxio_epollet(void) { return EPOLLET; }
static inline unsigned int clinuxio_epolloneshot(void) { return EPOLLONESHOT; }
#endif
