from django.apps import AppConfig


class PostsConfig(AppConfig):
    name = "watchhouse.posts"
    label = "posts"
    verbose_name = "Publishing"
