/*
 * The CMOS real-time clock (MC146818, ports 0x70/0x71) as pvboot's wall
 * clock: read once, on the first time.time(), in UTC as QEMU keeps it.
 */
#include "pvboot_driver.h"

#define CMOS_INDEX (0x70)
#define CMOS_DATA (0x71)
#define REG_SECONDS (0x00)
#define REG_MINUTES (0x02)
#define REG_HOURS (0x04)
#define REG_DAY (0x07)
#define REG_MONTH (0x08)
#define REG_YEAR (0x09)
#define REG_STATUS_A (0x0a)
#define REG_STATUS_B (0x0b)
#define REG_CENTURY (0x32)
#define STATUS_A_UPDATING (0x80)
#define STATUS_B_BINARY (0x04)
#define STATUS_B_24H (0x02)

static uint8_t cmos_read(uint8_t reg) {
    pvboot_outb(CMOS_INDEX, reg);
    return pvboot_inb(CMOS_DATA);
}

typedef struct {
    uint8_t sec, min, hour, day, month, year, century;
} rtc_time_t;

static void read_raw(rtc_time_t *t) {
    while (cmos_read(REG_STATUS_A) & STATUS_A_UPDATING) {
    }
    t->sec = cmos_read(REG_SECONDS);
    t->min = cmos_read(REG_MINUTES);
    t->hour = cmos_read(REG_HOURS);
    t->day = cmos_read(REG_DAY);
    t->month = cmos_read(REG_MONTH);
    t->year = cmos_read(REG_YEAR);
    t->century = cmos_read(REG_CENTURY);
}

static unsigned from_bcd(uint8_t v) {
    return (v & 0x0f) + (v >> 4) * 10;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's method).
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static uint64_t cmos_rtc_unix_ns(void) {
    rtc_time_t a, b;
    // Read until two reads agree: an update may land between registers.
    do {
        read_raw(&a);
        read_raw(&b);
    } while (a.sec != b.sec || a.min != b.min || a.hour != b.hour || a.day != b.day);
    uint8_t status_b = cmos_read(REG_STATUS_B);
    int pm = !(status_b & STATUS_B_24H) && (a.hour & 0x80);
    a.hour &= 0x7f;
    unsigned sec = a.sec, min = a.min, hour = a.hour, day = a.day, month = a.month;
    unsigned year = a.year, century = a.century;
    if (!(status_b & STATUS_B_BINARY)) {
        sec = from_bcd(a.sec);
        min = from_bcd(a.min);
        hour = from_bcd(a.hour);
        day = from_bcd(a.day);
        month = from_bcd(a.month);
        year = from_bcd(a.year);
        century = from_bcd(a.century);
    }
    if (pm) {
        hour = (hour % 12) + 12;
    }
    year += (century >= 19 && century <= 30 ? century : 20) * 100;
    int64_t days = days_from_civil(year, month, day);
    int64_t seconds = days * 86400 + hour * 3600 + min * 60 + sec;
    return (uint64_t)seconds * 1000000000ULL;
}

void cmos_rtc_init(void) {
    // No RTC (a Xen PVH domain): reads return 0xff, and the update flag
    // would never clear.
    if (cmos_read(REG_STATUS_A) == 0xff && cmos_read(REG_STATUS_B) == 0xff) {
        return;
    }
    pvboot_wallclock_register(cmos_rtc_unix_ns);
}
