/*
 * Console fan-out and a small printf for diagnostics. Device modules
 * register backends; pvboot itself owns no console device.
 */
#include <stdarg.h>

#include "pvboot.h"

static pvboot_console_t *consoles;
static void (*receiver)(int c);
static size_t (*receiver_room)(void);
static volatile int throttled;

void pvboot_console_set_receiver(void (*receive)(int c), size_t (*room)(void)) {
    receiver = receive;
    receiver_room = room;
}

size_t pvboot_console_room(void) {
    size_t room = receiver_room != NULL ? receiver_room() : 0;
    if (room == 0) {
        throttled = 1;
    }
    return room;
}

void pvboot_console_resume(void) {
    if (!throttled) {
        return;
    }
    throttled = 0;
    for (pvboot_console_t *c = consoles; c != NULL; c = c->next) {
        if (c->resume != NULL) {
            c->resume();
        }
    }
}

void pvboot_console_input(const char *buf, size_t len) {
    if (receiver == NULL) {
        return; // nobody listens yet: input before the REPL is dropped
    }
    for (size_t i = 0; i < len; i++) {
        receiver((unsigned char)buf[i]);
    }
}

void pvboot_console_register(pvboot_console_t *console) {
    pvboot_console_t **p = &consoles;
    while (*p != NULL) {
        p = &(*p)->next;
    }
    console->next = NULL;
    *p = console;
}

void pvboot_console_write(const char *buf, size_t len) {
    for (pvboot_console_t *c = consoles; c != NULL; c = c->next) {
        c->write(buf, len);
    }
}

void pvboot_console_flush(void) {
    for (pvboot_console_t *c = consoles; c != NULL; c = c->next) {
        if (c->flush != NULL) {
            c->flush();
        }
    }
}

int pvboot_console_read(void) {
    for (pvboot_console_t *c = consoles; c != NULL; c = c->next) {
        if (c->read != NULL) {
            int ch = c->read();
            if (ch >= 0) {
                return ch;
            }
        }
    }
    return -1;
}

static void put_unsigned(uint64_t v, unsigned base, int width, char pad) {
    char buf[24];
    int n = 0;
    do {
        buf[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v != 0);
    while (n < width && n < (int)sizeof(buf)) {
        buf[n++] = pad;
    }
    char out[24];
    for (int i = 0; i < n; i++) {
        out[i] = buf[n - 1 - i];
    }
    pvboot_console_write(out, (size_t)n);
}

void pvboot_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const char *run = fmt;
    for (const char *p = fmt; *p != '\0'; p++) {
        if (*p == '\n') {
            // Serial terminals want CR LF.
            pvboot_console_write(run, (size_t)(p - run));
            pvboot_console_write("\r\n", 2);
            run = p + 1;
            continue;
        }
        if (*p != '%') {
            continue;
        }
        pvboot_console_write(run, (size_t)(p - run));
        p++;
        char pad = ' ';
        int width = 0;
        if (*p == '0') {
            pad = '0';
            p++;
        }
        while (*p >= '0' && *p <= '9') {
            width = width * 10 + (*p++ - '0');
        }
        int is_long = 0;
        if (*p == 'l') {
            is_long = 1;
            p++;
        }
        switch (*p) {
            case 's': {
                const char *s = va_arg(ap, const char *);
                size_t len = 0;
                while (s[len] != '\0') {
                    len++;
                }
                pvboot_console_write(s, len);
                break;
            }
            case 'c': {
                char c = (char)va_arg(ap, int);
                pvboot_console_write(&c, 1);
                break;
            }
            case 'd': {
                int64_t v = is_long ? va_arg(ap, int64_t) : va_arg(ap, int);
                if (v < 0) {
                    pvboot_console_write("-", 1);
                    v = -v;
                }
                put_unsigned((uint64_t)v, 10, width, pad);
                break;
            }
            case 'u':
                put_unsigned(is_long ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad);
                break;
            case 'x':
                put_unsigned(is_long ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad);
                break;
            case 'p':
                pvboot_console_write("0x", 2);
                put_unsigned((uintptr_t)va_arg(ap, void *), 16, 16, '0');
                break;
            case '%':
                pvboot_console_write("%", 1);
                break;
            default:
                if (*p == '\0') {
                    p--;
                }
                break;
        }
        run = p + 1;
    }
    pvboot_console_write(run, (size_t)(fmt + __builtin_strlen(fmt) - run));
    va_end(ap);
}
