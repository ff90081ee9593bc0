# embed_entries.cmake — compile the cognition entries into the binary.
# cmake -DDIR=<cognition/entries> -DOUT=<file.c> -P embed_entries.cmake
# writes every DIR/*.json (sorted by name) as a NUL-terminated byte array,
# so a binary finds its cognition base from any directory (cog_private.h).
file(GLOB entries RELATIVE ${DIR} ${DIR}/*.json)
list(SORT entries)
list(LENGTH entries count)
if(count EQUAL 0)
  message(FATAL_ERROR "no cognition entries in ${DIR}")
endif()

set(arrays "")
set(names "")
set(texts "")
set(lengths "")
set(i 0)
foreach(name IN LISTS entries)
  # Names become C string literals and entry ids: keep them plain.
  if(NOT name MATCHES "^[a-z0-9][a-z0-9-]*\\.json$")
    message(FATAL_ERROR "cognition entry '${name}': name files <id>.json with lowercase letters, digits and '-'")
  endif()
  file(READ ${DIR}/${name} hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR bytes "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
  string(APPEND arrays "static const char entry_${i}[] = {${body}0x00};\n")
  string(APPEND names "    \"${name}\",\n")
  string(APPEND texts "    entry_${i},\n")
  string(APPEND lengths "    ${bytes},\n")
  math(EXPR i "${i} + 1")
endforeach()

file(WRITE ${OUT}.tmp "/* generated from cognition/entries by embed_entries.cmake: do not edit */\n"
  "#include \"cog_private.h\"\n\n${arrays}\n"
  "const int cog_embedded_count = ${count};\n"
  "const char *const cog_embedded_names[] = {\n${names}};\n"
  "const char *const cog_embedded_texts[] = {\n${texts}};\n"
  "const size_t cog_embedded_lengths[] = {\n${lengths}};\n")
file(RENAME ${OUT}.tmp ${OUT})
