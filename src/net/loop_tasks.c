/* Running code on the loop thread: tasks posted from any thread (a mutex-guarded FIFO and one
 * event made active, which wakes the loop), one-shot timers, and signal handlers. Timers and
 * signal handlers are kept in one list so that freeing the server frees the ones still set. */
#include <signal.h>
#include <stdlib.h>

#include "net/internal.h"

rx_status rx_http_post(rx_http_server *s, rx_http_task task, void *arg)
{
    if (!s || !task) return rx_error(RX_ERR_INVALID_ARG, "http: post of a NULL task");
    rx_http_task_node *n = malloc(sizeof *n);
    if (!n) return rx_error(RX_ERR_NOMEM, "http: cannot queue a task");
    n->task = task;
    n->arg = arg;
    n->next = NULL;
    pthread_mutex_lock(&s->post_mu);
    if (s->post_tail)
        s->post_tail->next = n;
    else
        s->post_head = n;
    s->post_tail = n;
    pthread_mutex_unlock(&s->post_mu);
    event_active(s->post_ev, EV_READ, 0);
    return RX_OK;
}

void rx_http__run_posted(rx_http_server *s)
{
    /* take the whole queue at once: tasks posted while these run wait for the next turn,
     * and the lock is never held while a task runs */
    pthread_mutex_lock(&s->post_mu);
    rx_http_task_node *n = s->post_head;
    s->post_head = s->post_tail = NULL;
    pthread_mutex_unlock(&s->post_mu);
    while (n) {
        rx_http_task_node *next = n->next;
        n->task(n->arg);
        free(n);
        n = next;
    }
}

void rx_http__post_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    rx_http__run_posted(arg);
}

static void unlink_rec(rx_http_timer_rec *t)
{
    rx_http_server *s = t->srv;
    if (t->prev)
        t->prev->next = t->next;
    else
        s->timers = t->next;
    if (t->next) t->next->prev = t->prev;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    rx_http_timer_rec *t = arg;
    if (!t->is_signal) unlink_rec(t); /* one-shot: gone before the task can add another */
    t->task(t->arg);
    if (!t->is_signal) {
        event_free(t->ev);
        free(t);
    }
}

static rx_status add_rec(rx_http_server *s, bool is_signal, int signo, int delay_ms,
                         rx_http_task task, void *arg, rx_http_timer_rec **out)
{
    rx_http_timer_rec *t = calloc(1, sizeof *t);
    if (!t) return rx_error(RX_ERR_NOMEM, "http: cannot allocate a timer");
    t->srv = s;
    t->task = task;
    t->arg = arg;
    t->is_signal = is_signal;
    t->ev =
        is_signal ? evsignal_new(s->base, signo, timer_cb, t) : evtimer_new(s->base, timer_cb, t);
    struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
    if (!t->ev || event_add(t->ev, is_signal ? NULL : &tv) != 0) {
        if (t->ev) event_free(t->ev);
        free(t);
        return is_signal ? rx_error(RX_ERR_IO, "http: cannot watch signal %d", signo)
                         : rx_error(RX_ERR_NOMEM, "http: cannot add a %d ms timer", delay_ms);
    }
    t->next = s->timers;
    if (s->timers) s->timers->prev = t;
    s->timers = t;
    if (out) *out = t;
    return RX_OK;
}

rx_status rx_http_timer(rx_http_server *s, int delay_ms, rx_http_task task, void *arg)
{
    if (!s || !task || delay_ms < 0)
        return rx_error(RX_ERR_INVALID_ARG, "http: bad timer (%d ms)", delay_ms);
    return add_rec(s, false, 0, delay_ms, task, arg, NULL);
}

rx_status rx_http_timer_start(rx_http_server *s, int delay_ms, rx_http_task task, void *arg,
                              rx_http_timer_rec **out)
{
    if (!s || !task || delay_ms < 0 || !out)
        return rx_error(RX_ERR_INVALID_ARG, "http: bad timer (%d ms)", delay_ms);
    return add_rec(s, false, 0, delay_ms, task, arg, out);
}

void rx_http_timer_cancel(rx_http_timer_rec *t)
{
    if (!t || t->is_signal) return;
    unlink_rec(t);
    event_free(t->ev);
    free(t);
}

rx_status rx_http_on_signal(rx_http_server *s, int signo, rx_http_task fn, void *arg)
{
    if (!s || !fn || signo <= 0 || signo >= NSIG)
        return rx_error(RX_ERR_INVALID_ARG, "http: bad signal handler for %d", signo);
    return add_rec(s, true, signo, 0, fn, arg, NULL);
}

void rx_http__free_timers(rx_http_server *s)
{
    while (s->timers) {
        rx_http_timer_rec *t = s->timers;
        s->timers = t->next;
        event_free(t->ev);
        free(t);
    }
}
