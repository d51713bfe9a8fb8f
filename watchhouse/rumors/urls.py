app_name = "rumors"
urlpatterns: list = []
