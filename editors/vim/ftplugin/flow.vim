" Flow files of flowc: comments, and `gq` formats through `flowc fmt -`.
if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

setlocal commentstring=#\ %s
setlocal comments=:#,://
setlocal formatprg=flowc\ fmt\ -
let b:undo_ftplugin = 'setlocal commentstring< comments< formatprg<'
