/*
 * Options on the kernel command line: key=value words before a lone "--"
 * (what comes after it is the app's argv). The same rule as the frozen
 * cmdline module's (port/frozen/cmdline.py), for C code that needs an
 * option before Python runs (lwIP's ip=, gw=, dns=): words are separated
 * by whitespace as str.split() separates them (space, \t \n \v \f \r), and
 * when a key is given twice the last word counts, as in the module's dict
 * (a bare "key" after "key=v" leaves it without a value).
 * tests/unit/test_cmdline_properties.py checks the two agree.
 */
#include <string.h>

#include "pvboot_internal.h"

static bool is_space(char c) {
    // MicroPython's unichar_isspace for ASCII: what str.split() splits on.
    return c == ' ' || (c >= '\t' && c <= '\r');
}

const char *pvboot_cmdline_word(const char **cursor, size_t *len) {
    const char *p = *cursor;
    while (is_space(*p)) {
        p++;
    }
    if (*p == '\0') {
        *cursor = p;
        return NULL;
    }
    const char *word = p;
    while (*p != '\0' && !is_space(*p)) {
        p++;
    }
    *cursor = p;
    *len = (size_t)(p - word);
    return word;
}

const char *pvboot_cmdline_option(const char *key, size_t *len) {
    size_t klen = strlen(key);
    const char *p = pvboot_start_info()->cmdline;
    const char *found = NULL;
    const char *word;
    size_t wlen;
    while ((word = pvboot_cmdline_word(&p, &wlen)) != NULL) {
        if (wlen == 2 && word[0] == '-' && word[1] == '-') {
            break;
        }
        if (wlen > klen && memcmp(word, key, klen) == 0 && word[klen] == '=') {
            *len = wlen - klen - 1;
            found = word + klen + 1;
        } else if (wlen == klen && memcmp(word, key, klen) == 0) {
            found = NULL;
        }
    }
    return found;
}
