# Turn include/asiarch.h into a C array (cmake -P; no xxd needed).
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "/* generated from include/asiarch.h: do not edit */\n#include <stddef.h>\n"
  "const char jit_dsl_header[] = {${body}0x00};\nconst size_t jit_dsl_header_len = ${bytes};\n")
