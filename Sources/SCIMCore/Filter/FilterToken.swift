public import JSON

enum FilterToken: Equatable {
    case lparen, rparen, lbracket, rbracket
    case string(String)
    case word(Substring)
    case end
}
