" *.flow files are flows of flowc (see docs/editors.md).
autocmd BufRead,BufNewFile *.flow setfiletype flow
