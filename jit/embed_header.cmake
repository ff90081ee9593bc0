# Turn a header (IN) into a C array named VAR, with VAR_len (cmake -P; no xxd needed).
if(NOT VAR)
  set(VAR jit_dsl_header)
endif()
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
get_filename_component(name ${IN} NAME)
file(WRITE ${OUT} "/* generated from include/${name}: do not edit */\n#include <stddef.h>\n"
  "const char ${VAR}[] = {${body}0x00};\nconst size_t ${VAR}_len = ${bytes};\n")
