# Embed kernels/cuda/*.cu, *.h and the DSL header as gpu_sources[] (cmake -P;
# no xxd needed). IN: a |-separated list of files, OUT: the C file.
string(REPLACE "|" ";" IN "${IN}")
set(body "")
foreach(f ${IN})
  get_filename_component(name ${f} NAME)
  file(READ ${f} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(MAKE_C_IDENTIFIER "${name}" id)
  string(APPEND decls "static const char src_${id}[] = {${bytes}0x00};\n")
  string(APPEND body "    {\"${name}\", src_${id}},\n")
endforeach()
file(WRITE ${OUT} "/* generated from kernels/cuda and include/asiarch.h: do not edit */\n#include \"gpu.h\"\n${decls}"
  "const gpu_source gpu_sources[] = {\n${body}    {0, 0}};\n")
