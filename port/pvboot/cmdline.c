/*
 * Options on the kernel command line: key=value words before a lone "--"
 * (what comes after it is the app's argv). The same rule as the frozen
 * cmdline module's, for C code that needs an option before Python runs
 * (lwIP's ip=, gw=, dns=).
 */
#include <string.h>

#include "pvboot_internal.h"

const char *pvboot_cmdline_option(const char *key, size_t *len) {
    size_t klen = strlen(key);
    const char *p = pvboot_start_info()->cmdline;
    while (*p != '\0') {
        while (*p == ' ') {
            p++;
        }
        const char *word = p;
        while (*p != '\0' && *p != ' ') {
            p++;
        }
        size_t wlen = (size_t)(p - word);
        if (wlen == 2 && word[0] == '-' && word[1] == '-') {
            break;
        }
        if (wlen > klen && memcmp(word, key, klen) == 0 && word[klen] == '=') {
            *len = wlen - klen - 1;
            return word + klen + 1;
        }
    }
    return NULL;
}
