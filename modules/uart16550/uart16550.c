/*
 * 16550 UART console (COM1 unless the board says otherwise), polled.
 *
 * Registers itself as a pvboot console: output waits for the transmit
 * holding register, input returns what the receive buffer holds, if any.
 */
#include "pvboot.h"

#ifndef UART16550_PORT
#define UART16550_PORT (0x3f8)
#endif
#ifndef UART16550_BAUD
#define UART16550_BAUD (115200)
#endif

#define REG_DATA (0)
#define REG_IER (1)
#define REG_FCR (2)
#define REG_LCR (3)
#define REG_MCR (4)
#define REG_LSR (5)

#define LSR_DATA_READY (0x01)
#define LSR_THR_EMPTY (0x20)

static void uart_write(const char *buf, size_t len) {
    for (size_t i = 0; i < len; i++) {
        while (!(pvboot_inb(UART16550_PORT + REG_LSR) & LSR_THR_EMPTY)) {
        }
        pvboot_outb(UART16550_PORT + REG_DATA, (uint8_t)buf[i]);
    }
}

static int uart_read(void) {
    if (pvboot_inb(UART16550_PORT + REG_LSR) & LSR_DATA_READY) {
        return pvboot_inb(UART16550_PORT + REG_DATA);
    }
    return -1;
}

static pvboot_console_t uart_console = {
    .name = "uart16550",
    .write = uart_write,
    .read = uart_read,
};

void uart16550_init(void) {
    uint16_t divisor = (uint16_t)(115200 / UART16550_BAUD);
    pvboot_outb(UART16550_PORT + REG_IER, 0x00);   // no interrupts: polled
    pvboot_outb(UART16550_PORT + REG_LCR, 0x80);   // divisor latch access
    pvboot_outb(UART16550_PORT + REG_DATA, divisor & 0xff);
    pvboot_outb(UART16550_PORT + REG_IER, divisor >> 8);
    pvboot_outb(UART16550_PORT + REG_LCR, 0x03);   // 8 data bits, no parity, 1 stop
    pvboot_outb(UART16550_PORT + REG_FCR, 0xc5);   // FIFOs on; keep what was typed already
    pvboot_outb(UART16550_PORT + REG_MCR, 0x03);   // DTR, RTS
    pvboot_console_register(&uart_console);
}
