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

// Constants that are enums or macros Swift imports awkwardly.
static inline unsigned int clinuxio_epollin(void) { return EPOLLIN; }
static inline unsigned int clinuxio_epollout(void) { return EPOLLOUT; }
static inline unsigned int clinuxio_epollerr(void) { return EPOLLERR; }
static inline unsigned int clinuxio_epollhup(void) { return EPOLLHUP; }
static inline unsigned int clinuxio_epollrdhup(void) { return EPOLLRDHUP; }
static inline unsigned int clinuxio_epollet(void) { return EPOLLET; }
#endif
