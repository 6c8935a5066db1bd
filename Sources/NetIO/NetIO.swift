// NetIO
