/*
 * 16550 UART console (COM1 unless the board says otherwise).
 *
 * Registers itself as a pvboot console. Output waits for the transmit
 * holding register. Input is interrupt-driven: the receive interrupt drains
 * the FIFO into pvboot_console_input(). Without an IOAPIC line (or with
 * irq = -1) the console is polled instead.
 */
#include <stdbool.h>

#include "pvboot_driver.h"

#ifndef UART16550_PORT
#define UART16550_PORT (0x3f8)
#endif
#ifndef UART16550_BAUD
#define UART16550_BAUD (115200)
#endif
#ifndef UART16550_IRQ
#define UART16550_IRQ (4)
#endif

#define REG_DATA (0)
#define REG_IER (1)
#define REG_FCR (2)
#define REG_LCR (3)
#define REG_MCR (4)
#define REG_LSR (5)

#define IER_RX_AVAILABLE (0x01)
#define MCR_DTR (0x01)
#define MCR_RTS (0x02)
#define MCR_OUT2 (0x08) // gates the UART's interrupt line on PCs

#define REG_SCRATCH (7)

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

static void uart_interrupt(void *arg) {
    (void)arg;
    size_t room = pvboot_console_room();
    while (pvboot_inb(UART16550_PORT + REG_LSR) & LSR_DATA_READY) {
        if (room == 0 && (room = pvboot_console_room()) == 0) {
            // The receiver is full: leave the rest in the FIFO (QEMU then
            // stops sending) and take no interrupt until resume.
            pvboot_outb(UART16550_PORT + REG_IER, 0);
            return;
        }
        char c = (char)pvboot_inb(UART16550_PORT + REG_DATA);
        pvboot_console_input(&c, 1);
        room--;
    }
}

static void uart_resume(void) {
    // The receive interrupt fires at once if data is waiting.
    pvboot_outb(UART16550_PORT + REG_IER, IER_RX_AVAILABLE);
}

static pvboot_console_t uart_console = {
    .name = "uart16550",
    .write = uart_write,
    .read = uart_read,
    .resume = uart_resume,
};

static bool uart_present(void) {
    // Where there is no UART (a Xen PVH domain) port reads return 0xff:
    // the scratch register does not keep what is written to it.
    pvboot_outb(UART16550_PORT + REG_SCRATCH, 0x5a);
    if (pvboot_inb(UART16550_PORT + REG_SCRATCH) != 0x5a) {
        return false;
    }
    pvboot_outb(UART16550_PORT + REG_SCRATCH, 0xa5);
    return pvboot_inb(UART16550_PORT + REG_SCRATCH) == 0xa5;
}

void uart16550_init(void) {
    if (!uart_present()) {
        return;
    }
    uint16_t divisor = (uint16_t)(115200 / UART16550_BAUD);
    pvboot_outb(UART16550_PORT + REG_IER, 0x00);   // no interrupts while set up
    pvboot_outb(UART16550_PORT + REG_LCR, 0x80);   // divisor latch access
    pvboot_outb(UART16550_PORT + REG_DATA, divisor & 0xff);
    pvboot_outb(UART16550_PORT + REG_IER, divisor >> 8);
    pvboot_outb(UART16550_PORT + REG_LCR, 0x03);   // 8 data bits, no parity, 1 stop
    pvboot_outb(UART16550_PORT + REG_FCR, 0xc5);   // FIFOs on; keep what was typed already
    pvboot_outb(UART16550_PORT + REG_MCR, MCR_DTR | MCR_RTS);
    if (UART16550_IRQ >= 0 && pvboot_irq_attach(UART16550_IRQ, uart_interrupt, NULL) >= 0) {
        uart_console.read = NULL; // input arrives by interrupt
        pvboot_outb(UART16550_PORT + REG_MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
        pvboot_outb(UART16550_PORT + REG_IER, IER_RX_AVAILABLE);
    }
    pvboot_console_register(&uart_console);
}
