# Embed the prompt templates (prompts/NAME.md) into a C file as the table
# llm_templates (see llm/internal.h), so the binary needs no data files.
#   cmake -DDIR=prompts -DNAMES=researcher,repair -DOUT=llm_prompts.c -P embed_prompts.cmake
string(REPLACE "," ";" names "${NAMES}")
set(arrays "")
set(table "")
set(count 0)
foreach(name IN LISTS names)
  file(READ ${DIR}/${name}.md hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
  string(APPEND arrays "static const char prompt_${name}[] = {${body}0x00};\n")
  string(APPEND table "    {\"${name}\", prompt_${name}},\n")
  math(EXPR count "${count} + 1")
endforeach()
file(WRITE ${OUT} "/* generated from prompts/NAME.md by llm/embed_prompts.cmake: do not edit */\n"
  "#include \"internal.h\"\n\n${arrays}\nconst llm_template llm_templates[] = {\n${table}};\n"
  "const int llm_n_templates = ${count};\n")
