" Vim syntax file
" Language:  Flow (flowc's marketing-automation flows, *.flow)
" Source:    grammar/flow.pest; tests/highlighting.rs checks that every word
"            of its kw_* rules is in one of the keyword lists below.
"
" The reserved words are keywords everywhere. The contextual words (of, as,
" for, ..., quiet, hours) are keywords only where they stand in the pest
" grammar; Vim keywords cannot see that, so they are highlighted everywhere,
" in a group of their own (flowContextual) that a colour scheme may tone down.

if exists('b:current_syntax')
  finish
endif

" Reserved words (kw_* before "Contextual words" in flow.pest).
syn keyword flowControl      when on if then
syn keyword flowOperatorWord and or not in is
syn keyword flowBoolean      true false
syn keyword flowDeclaration  flow policy nextgroup=flowName skipwhite
syn keyword flowAction       task webhook set tag untag exit
syn keyword flowAction       send nextgroup=flowChannel skipwhite
syn keyword flowPredicate    sent opened clicked used unused tagged
syn keyword flowPredicate    consent nextgroup=flowChannel skipwhite
syn keyword flowTrigger      anniversary becomes changes no yearly once where since within

" Contextual words (kw_* after "Contextual words" in flow.pest).
syn keyword flowContextual   of as for before after at with from coupon valid
syn keyword flowContextual   link note due to most per priority quiet hours

" email, sms and push are channels after send and consent, names elsewhere.
syn keyword flowChannel      email sms push contained
syn match   flowName         /\k\+/ contained

" Settings (`send_at: 08:00`) and rule labels (`tenth: on ...`).
syn match   flowSettingKey   /^\s*\zs\k\+\ze\s*:/
syn match   flowLabel        /^\s*\zs\k\+\ze\s*:\s*\%(when\|on\)\>/

" Literals; at one place the one defined last wins, so the most precise
" (duration, time, date) come after plain numbers.
syn match   flowNumber       /\<\d\+\%(\.\d\+\)\=\>/
syn match   flowBadNumber    /\<\d\+\a\k*/
syn match   flowDuration     /\<\d\+\%(years\|year\|y\|months\|month\|mo\|weeks\|week\|w\|days\|day\|d\|hours\|hour\|h\|minutes\|minute\|min\)\>/
syn match   flowTime         /\<\d\{1,2}:\d\d\>:\@!/
syn match   flowDate         /\<\d\{4}-\d\d-\d\d\>/

syn region  flowString       start=/"/ skip=/\\./ end=/"\|$/ contains=flowBadEscape,flowEscape
syn match   flowBadEscape    /\\./ contained
syn match   flowBadEscape    /\\u{[^}"]*}\=/ contained
syn match   flowEscape       /\\[nrt"\\]/ contained
syn match   flowEscape       /\\u{\x\{1,6}}/ contained

syn match   flowOperator     /==\|!=\|<=\|>=\|[<>=+\-*\/%]/
syn match   flowComment      /\%(#\|\/\/\).*$/ contains=flowTodo,@Spell
syn keyword flowTodo         TODO FIXME XXX contained

hi def link flowControl      Conditional
hi def link flowOperatorWord Operator
hi def link flowBoolean      Boolean
hi def link flowDeclaration  Structure
hi def link flowAction       Statement
hi def link flowPredicate    Function
hi def link flowTrigger      Keyword
hi def link flowContextual   Special
hi def link flowChannel      Constant
hi def link flowName         Type
hi def link flowSettingKey   Identifier
hi def link flowLabel        Label
hi def link flowNumber       Number
hi def link flowBadNumber    Error
hi def link flowDuration     Number
hi def link flowTime         Number
hi def link flowDate         Number
hi def link flowString       String
hi def link flowEscape       SpecialChar
hi def link flowBadEscape    Error
hi def link flowOperator     Operator
hi def link flowComment      Comment
hi def link flowTodo         Todo

let b:current_syntax = 'flow'
